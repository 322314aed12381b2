// The SharpLM playground: plain browser JavaScript, no build step, no dependencies, only same-origin requests.
// It talks to the server through the same OpenAI-compatible API the SDKs use.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORAGE = "sharplm-api-key";

const state = {
  key: sessionStorage.getItem(KEY_STORAGE),
  models: [],
  model: null,
  running: null, // the AbortController of the request under way
  history: [], // chat turns: { role, content }
  plotUrl: null,
  reconnecting: false,
};

/** An error the API answered with (its one-line message), or a network failure (status 0). */
class ApiError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function setStatus(text, kind) {
  const s = $("status");
  s.textContent = text;
  s.dataset.state = kind;
}

/** fetch with the API key; errors become ApiError with the server's message. */
async function api(path, body, signal) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (state.key) headers.Authorization = "Bearer " + state.key;
  let response;
  try {
    response = await fetch(path, {
      method: body === undefined ? "GET" : "POST",
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    reconnect();
    throw new ApiError(0, "The server cannot be reached (it may be restarting); the page reconnects by itself.");
  }
  if (response.ok) return response;
  let message = `${response.status} ${response.statusText}`;
  try {
    const json = await response.json();
    if (json && json.error && json.error.message) message = json.error.message;
  } catch {
    /* not JSON: keep the status line */
  }
  const retryAfter = Number(response.headers.get("Retry-After")) || 0;
  if (response.status === 401) askForKey(state.key ? "That key was refused: " + message : "");
  if (response.status === 429) message = `The server is busy; try again in ${retryAfter || 1} s. (${message})`;
  if (response.status === 503) message = `The server is starting; try again in ${retryAfter || 2} s. (${message})`;
  throw new ApiError(response.status, message, retryAfter);
}

// ------------------------------------------------------------------ connection, key, models

async function reconnect() {
  if (state.reconnecting) return;
  state.reconnecting = true;
  setStatus("reconnecting…", "down");
  for (;;) {
    await new Promise((r) => setTimeout(r, 2000));
    try {
      const health = await fetch("/health");
      if (health.ok) break;
      setStatus("server starting…", "down");
    } catch {
      setStatus("server unreachable, retrying…", "down");
    }
  }
  state.reconnecting = false;
  showError("");
  await loadModels();
}

function askForKey(message) {
  const dialog = $("key-dialog");
  $("key-error").textContent = message;
  $("key-error").hidden = !message;
  if (!dialog.open) dialog.showModal();
  $("key-input").focus();
}

$("key-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  state.key = $("key-input").value.trim();
  sessionStorage.setItem(KEY_STORAGE, state.key);
  $("key-dialog").close();
  $("key-input").value = "";
  await loadModels();
});

$("forget-key").addEventListener("click", () => {
  sessionStorage.removeItem(KEY_STORAGE);
  state.key = null;
  $("forget-key").hidden = true;
  loadModels();
});

async function loadModels() {
  try {
    const health = await fetch("/health");
    if (health.status === 503) {
      setStatus("loading models…", "down");
      setTimeout(loadModels, 2000);
      return;
    }
    const list = await (await api("/v1/models")).json();
    state.models = list.data;
    $("forget-key").hidden = !state.key;
    setStatus("ready", "ready");
    showError("");
    const select = $("model");
    const previous = select.value;
    select.replaceChildren(
      ...state.models.map((m) => {
        const option = document.createElement("option");
        option.value = m.id;
        option.textContent = m.id;
        return option;
      })
    );
    if (state.models.some((m) => m.id === previous)) select.value = previous;
    selectModel(select.value);
  } catch (e) {
    if (e.status !== 401) showError(e.message);
  }
}

$("model").addEventListener("change", (e) => selectModel(e.target.value));

function selectModel(id) {
  stopRunning();
  state.model = state.models.find((m) => m.id === id) || null;
  const task = state.model ? state.model.sharplm.task : "";
  $("model-kind").textContent = state.model ? state.model.sharplm.description : "";
  $("generation").hidden = task !== "text-generation";
  $("classification").hidden = task !== "text-classification";
  $("fillmask").hidden = task !== "fill-mask";
  $("tab-chat").disabled = !(state.model && state.model.sharplm.chat_template);
  if ($("tab-chat").disabled) showTab("completion");
  state.history = [];
  $("messages").replaceChildren();
  renderCard();
}

// ------------------------------------------------------------------ model card

function addField(dl, name, value) {
  if (value === undefined || value === null || value === "") return;
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  dd.textContent = value;
  dl.append(dt, dd);
}

const number = (x, digits) => (typeof x === "number" ? x.toLocaleString("en", { maximumFractionDigits: digits }) : x);

async function renderCard() {
  const dl = $("card-fields");
  dl.replaceChildren();
  $("card-plot").hidden = true;
  if (state.plotUrl) URL.revokeObjectURL(state.plotUrl);
  state.plotUrl = null;
  const m = state.model;
  if (!m) return;
  const c = m.sharplm;
  addField(dl, "Model", m.id);
  addField(dl, "Kind", c.description);
  addField(dl, "Architecture", c.architecture);
  addField(dl, "Parameters", number(c.parameters, 0));
  addField(dl, "Context", c.context ? `${number(c.context, 0)} tokens` : null);
  addField(dl, "Chat template", c.chat_template);
  addField(dl, "Labels", c.labels ? c.labels.join(", ") : null);
  addField(dl, "Training data", c.training_data);
  addField(dl, "Training steps", number(c.steps, 0));
  addField(dl, "Best validation loss", number(c.best_val_loss, 4));
  const names = { macro_f1: "macro-F1", bits_per_byte: "bits per byte" };
  if (c.val_metrics)
    for (const [k, v] of Object.entries(c.val_metrics)) addField(dl, `Validation ${names[k] ?? k.replaceAll("_", " ")}`, number(v, 4));
  addField(dl, "Test accuracy", number(c.test_accuracy, 4));
  addField(dl, "Test macro-F1", number(c.test_macro_f1, 4));
  if (c.has_loss_plot) {
    try {
      // Fetched (not linked) so that the API key goes with it.
      const blob = await (await api(`/v1/models/${encodeURIComponent(m.id)}/loss.png`)).blob();
      if (state.model !== m) return;
      state.plotUrl = URL.createObjectURL(blob);
      const img = $("card-plot-image");
      img.src = state.plotUrl;
      img.alt = `Training and validation loss of ${m.id} by step`;
      $("card-plot").hidden = false;
    } catch {
      /* the card stands without its plot */
    }
  }
}

// ------------------------------------------------------------------ generation

function showTab(name) {
  const chat = name === "chat";
  $("tab-chat").setAttribute("aria-pressed", String(chat));
  $("tab-completion").setAttribute("aria-pressed", String(!chat));
  $("chat-view").hidden = !chat;
  $("completion-view").hidden = chat;
}
$("tab-chat").addEventListener("click", () => showTab("chat"));
$("tab-completion").addEventListener("click", () => showTab("completion"));

/** The sampling settings as request fields (SharpLM's top_k and repetition_penalty included). */
function sampling() {
  const value = (id) => $(id).value.trim();
  const body = {
    temperature: Number(value("temperature")),
    top_p: Number(value("top_p")),
    top_k: Number(value("top_k")),
    repetition_penalty: Number(value("repetition_penalty")),
    max_tokens: Number(value("max_tokens")),
  };
  if (value("seed") !== "") body.seed = Number(value("seed"));
  const stop = $("stop").value.split("\n").filter((s) => s.length > 0);
  if (stop.length > 0) body.stop = stop;
  return body;
}

/** Reads an OpenAI server-sent-event stream and yields each chunk until [DONE]. */
async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        yield JSON.parse(data);
      }
    }
  }
}

function stopRunning() {
  if (state.running) state.running.abort();
}

function setRunning(controller, send, stop) {
  state.running = controller;
  $(send).disabled = controller !== null;
  $(stop).disabled = controller === null;
}

/**
 * Streams a completion or chat request: onText gets each piece of text; returns the usage, the finish reason and
 * the seconds taken (or stopped: true when the user stopped it).
 */
async function stream(path, body, onText, send, stop) {
  const controller = new AbortController();
  setRunning(controller, send, stop);
  showError("");
  const started = performance.now();
  let usage = null;
  let finish = null;
  try {
    const response = await api(path, { ...body, stream: true, stream_options: { include_usage: true } }, controller.signal);
    for await (const chunk of events(response)) {
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices) {
        const text = choice.delta ? choice.delta.content : choice.text;
        if (text) onText(text);
        if (choice.finish_reason) finish = choice.finish_reason;
      }
    }
    return { usage, finish, seconds: (performance.now() - started) / 1000 };
  } catch (e) {
    if (e.name === "AbortError") return { usage, finish: "stopped", seconds: (performance.now() - started) / 1000, stopped: true };
    showError(e.message);
    return null;
  } finally {
    setRunning(null, send, stop);
  }
}

function describe(result) {
  if (!result) return "";
  const parts = [];
  if (result.usage) {
    const n = result.usage.completion_tokens;
    parts.push(`${n} tokens`, `${(n / Math.max(result.seconds, 1e-3)).toFixed(1)} tokens/s`);
    parts.push(`prompt ${result.usage.prompt_tokens} tokens`);
  } else parts.push(`${result.seconds.toFixed(2)} s`);
  if (result.finish) parts.push(result.finish === "stopped" ? "stopped" : `finish: ${result.finish}`);
  return parts.join(" · ");
}

function addMessage(role, text) {
  const li = document.createElement("li");
  li.className = role;
  const label = document.createElement("span");
  label.className = "role";
  label.textContent = role === "user" ? "You" : state.model.id;
  const content = document.createElement("span");
  content.className = "content";
  content.textContent = text;
  li.append(label, content);
  $("messages").append(li);
  return li;
}

$("chat-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text || state.running) return;
  input.value = "";
  state.history.push({ role: "user", content: text });
  addMessage("user", text);
  const reply = addMessage("assistant", "");
  reply.setAttribute("aria-busy", "true");
  const content = reply.querySelector(".content");
  const messages = [...state.history];
  const system = $("system").value.trim();
  if (system) messages.unshift({ role: "system", content: system });
  const { max_tokens, ...rest } = sampling();
  const result = await stream(
    "/v1/chat/completions",
    { model: state.model.id, messages, max_completion_tokens: max_tokens, ...rest },
    (t) => (content.textContent += t),
    "chat-send",
    "chat-stop"
  );
  reply.removeAttribute("aria-busy");
  if (!result) {
    // The request failed (the error says why): take the turn back so that sending again asks the same thing.
    state.history.pop();
    reply.previousElementSibling.remove();
    reply.remove();
    if (!input.value) input.value = text;
    return;
  }
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = describe(result);
  reply.append(meta);
  if (content.textContent) state.history.push({ role: "assistant", content: content.textContent });
  input.focus();
});

$("chat-input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $("chat-form").requestSubmit();
  }
});
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && state.running) stopRunning();
});
$("chat-stop").addEventListener("click", stopRunning);
$("completion-stop").addEventListener("click", stopRunning);
$("chat-clear").addEventListener("click", () => {
  stopRunning();
  state.history = [];
  $("messages").replaceChildren();
});

$("completion-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const prompt = $("completion-input").value;
  if (!prompt || state.running) return;
  $("completion-prompt").textContent = prompt;
  const out = $("completion-text");
  out.textContent = "";
  $("completion-stats").textContent = "";
  const result = await stream(
    "/v1/completions",
    { model: state.model.id, prompt, ...sampling() },
    (t) => (out.textContent += t),
    "completion-send",
    "completion-stop"
  );
  $("completion-stats").textContent = describe(result);
});

// ------------------------------------------------------------------ classification and fill-mask

function bars(list, entries) {
  list.replaceChildren(
    ...entries.map(([label, p], i) => {
      const li = document.createElement("li");
      if (i === 0) li.className = "top";
      const name = document.createElement("span");
      name.className = "label";
      name.textContent = label;
      const meter = document.createElement("meter");
      meter.min = 0;
      meter.max = 1;
      meter.value = p;
      meter.setAttribute("aria-label", `${label}: ${(p * 100).toFixed(1)} percent`);
      const value = document.createElement("span");
      value.className = "value";
      value.textContent = `${(p * 100).toFixed(1)}%`;
      li.append(name, meter, value);
      return li;
    })
  );
}

$("classify-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  showError("");
  try {
    const body = { model: state.model.id, input: [$("classify-input").value] };
    const result = await (await api("/v1/classify", body)).json();
    const probabilities = Object.entries(result.data[0].probabilities).sort((a, b) => b[1] - a[1]);
    bars($("classify-result"), probabilities);
  } catch (err) {
    showError(err.message);
  }
});

$("fillmask-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  showError("");
  const target = $("fillmask-result");
  try {
    const body = { model: state.model.id, input: $("fillmask-input").value, top_k: 5 };
    const result = await (await api("/v1/fill-mask", body)).json();
    target.replaceChildren(
      ...result.masks.map((mask, i) => {
        const section = document.createElement("section");
        const heading = document.createElement("h2");
        heading.className = "sub";
        heading.id = `mask-${i}`;
        heading.textContent = result.masks.length > 1 ? `[MASK] ${i + 1}` : "Candidates";
        const list = document.createElement("ul");
        list.className = "bars";
        list.setAttribute("aria-labelledby", heading.id);
        bars(
          list,
          mask.candidates.map((c) => [c.token, c.probability])
        );
        section.append(heading, list);
        return section;
      })
    );
  } catch (err) {
    showError(err.message);
  }
});

loadModels();
