using System.Globalization;
using System.Text;
using SharpLM.Serving;

namespace SharpLM.Server;

/// <summary>
/// Prometheus metrics named after vLLM's, prefixed "sharplm:" (time to first token, inter-token latency, end-to-end
/// latency, running and waiting requests, prompt and generation tokens, finished requests by reason), one set per
/// server, written in Prometheus' text format. Written by hand: prometheus-net rejects the ':' that Prometheus allows
/// and vLLM's names use, and these few series need nothing more than the format itself.
/// </summary>
public sealed class ServerMetrics(Func<IEnumerable<(string Model, int Running, int Waiting)>> queues)
{
    static readonly double[] Latency = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];

    readonly Histogram _ttft = new("sharplm:time_to_first_token_seconds", "Time from request to first generated token.");
    readonly Histogram _itl = new("sharplm:inter_token_latency_seconds", "Time between consecutive generated tokens of a request.");
    readonly Histogram _e2e = new("sharplm:e2e_request_latency_seconds", "Time from request to its last token.");
    readonly Counter _prompt = new("sharplm:prompt_tokens_total", "Prompt tokens processed.");
    readonly Counter _generation = new("sharplm:generation_tokens_total", "Tokens generated.");
    readonly Counter _finished = new(
        "sharplm:request_success_total",
        "Finished sequences by finish reason (cancelled: the client went away)."
    );

    public IEngineObserver For(string modelId) => new Observer(this, modelId);

    /// <summary>The exposition: Prometheus text format 0.0.4.</summary>
    public string Render()
    {
        var sb = new StringBuilder();
        var q = queues().ToList();
        Gauge(sb, "sharplm:num_requests_running", "Sequences being decoded.", q.Select(x => (x.Model, (double)x.Running)));
        Gauge(sb, "sharplm:num_requests_waiting", "Sequences waiting for a slot.", q.Select(x => (x.Model, (double)x.Waiting)));
        foreach (var h in new[] { _ttft, _itl, _e2e })
            h.Render(sb);
        foreach (var c in new[] { _prompt, _generation, _finished })
            c.Render(sb);
        return sb.ToString();
    }

    static void Gauge(StringBuilder sb, string name, string help, IEnumerable<(string Model, double Value)> values)
    {
        sb.Append($"# HELP {name} {help}\n# TYPE {name} gauge\n");
        foreach (var (model, value) in values)
            sb.Append($"{name}{{model_name=\"{Escape(model)}\"}} {F(value)}\n");
    }

    static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    static string Escape(string label) => label.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    /// <summary>A counter with labels: model_name, and for finished requests finished_reason.</summary>
    sealed class Counter(string name, string help)
    {
        readonly Dictionary<string, double> _values = [];

        public void Inc(string labels, double by = 1)
        {
            lock (_values)
                _values[labels] = _values.GetValueOrDefault(labels) + by;
        }

        public void Render(StringBuilder sb)
        {
            sb.Append($"# HELP {name} {help}\n# TYPE {name} counter\n");
            lock (_values)
                foreach (var (labels, v) in _values.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    sb.Append($"{name}{{{labels}}} {F(v)}\n");
        }
    }

    sealed class Histogram(string name, string help)
    {
        sealed class Series
        {
            public readonly long[] Buckets = new long[Latency.Length];
            public long Count;
            public double Sum;
        }

        readonly Dictionary<string, Series> _series = [];

        public void Observe(string model, double seconds)
        {
            lock (_series)
            {
                if (!_series.TryGetValue(model, out var s))
                    _series[model] = s = new Series();
                for (int i = 0; i < Latency.Length; i++)
                    if (seconds <= Latency[i])
                        s.Buckets[i]++;
                s.Count++;
                s.Sum += seconds;
            }
        }

        public void Render(StringBuilder sb)
        {
            sb.Append($"# HELP {name} {help}\n# TYPE {name} histogram\n");
            lock (_series)
                foreach (var (model, s) in _series.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    string m = $"model_name=\"{Escape(model)}\"";
                    for (int i = 0; i < Latency.Length; i++)
                        sb.Append($"{name}_bucket{{{m},le=\"{F(Latency[i])}\"}} {s.Buckets[i]}\n");
                    sb.Append($"{name}_bucket{{{m},le=\"+Inf\"}} {s.Count}\n{name}_sum{{{m}}} {F(s.Sum)}\n{name}_count{{{m}}} {s.Count}\n");
                }
        }
    }

    sealed class Observer(ServerMetrics m, string id) : IEngineObserver
    {
        readonly string _labels = $"model_name=\"{Escape(id)}\"";

        public void FirstToken(TimeSpan sinceSubmit) => m._ttft.Observe(id, sinceSubmit.TotalSeconds);

        public void Token(TimeSpan sincePrevious) => m._itl.Observe(id, sincePrevious.TotalSeconds);

        public void Finished(Finished f)
        {
            m._e2e.Observe(id, f.Total.TotalSeconds);
            m._prompt.Inc(_labels, f.PromptTokens);
            m._generation.Inc(_labels, f.CompletionTokens);
            m._finished.Inc($"{_labels},finished_reason=\"{Escape(f.Reason)}\"");
        }
    }
}
