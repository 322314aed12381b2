# -*- coding: utf-8 -*-
# Hand-written inputs for the text-metric test vectors (run by make_vectors.py under sacrebleu 2.6.0 and rouge-score).
BLEU_CORPUS = [
  # (name, hyps, refs_streams, kwargs)
  ("basic", ["The cat sat on the mat.", "It is a guide to action which ensures that the military always obeys the commands of the party."],
   [["The cat is on the mat.", "It is a guide to action that ensures that the military will forever heed Party commands."]], {}),
  ("two_refs", ["The cat sat on the mat.", "It is a guide to action which ensures that the military always obeys the commands of the party."],
   [["The cat is on the mat.", "It is a guide to action that ensures that the military will forever heed Party commands."],
    ["There is a cat on the mat.", "It is the guiding principle which guarantees the military forces always being under the command of the Party."]], {}),
  ("three_refs_ties", ["a b c d e f", "x y"], [["a b c d", "x y z"], ["a b c d e f g h", "x"], ["a b", "x y z w"]], {}),
  ("empty_hyp", ["", "the quick brown fox"], [["a reference sentence", "the quick brown fox jumps"]], {}),
  ("all_empty_hyp", ["", ""], [["a reference", "another one"]], {}),
  ("no_overlap", ["alpha beta gamma delta"], [["one two three four"]], {}),
  ("longer_than_refs", ["the the the the the the the the cat sat on the mat today in the sun"], [["the cat sat on the mat"], ["a cat sat on a mat"]], {}),
  ("short_hyp", ["the cat"], [["the cat sat on the mat"]], {}),
  ("unigram_only_match", ["cat dog bird fish"], [["fish bird dog cat"]], {}),
  ("punct_numbers", ["He paid $1,000.50 for 3-4 items (on 12/05/2020), didn't he? Yes: \"&amp;\" &lt;tag&gt;.", "Test-case: e-mail, U.S.A. 2.5% x--y."],
   [["He paid $ 1,000.50 for 3 - 4 items ( on 12 / 05 / 2020 ) , did n't he ? Yes : \" & \" < tag > .", "Test-case : e-mail , U.S.A. 2.5 % x -- y ."]], {}),
  ("lowercase", ["THE Cat SAT on The MAT.", "Hello World"], [["the cat sat on the mat.", "hello world"]], {"lowercase": True}),
  ("mixedcase", ["THE Cat SAT on The MAT.", "Hello World"], [["the cat sat on the mat.", "hello world"]], {}),
  ("smooth_floor", ["the cat sat", "a dog ran far away"], [["the cat is sitting", "the dog ran away"]], {"smooth_method": "floor"}),
  ("smooth_floor_05", ["the cat sat", "a dog ran far away"], [["the cat is sitting", "the dog ran away"]], {"smooth_method": "floor", "smooth_value": 0.5}),
  ("smooth_addk", ["the cat sat", "a dog ran far away"], [["the cat is sitting", "the dog ran away"]], {"smooth_method": "add-k"}),
  ("smooth_addk_3", ["the cat sat", "a dog ran far away"], [["the cat is sitting", "the dog ran away"]], {"smooth_method": "add-k", "smooth_value": 3}),
  ("smooth_none", ["the cat sat", "a dog ran far away"], [["the cat is sitting", "the dog ran away"]], {"smooth_method": "none"}),
  ("smooth_exp_two_missing", ["the cat sat down here"], [["the cat is sitting down there"]], {}),
  ("effective_order", ["the cat", "a dog ran"], [["the cat sat", "the dog ran away"]], {"effective_order": True}),
  ("zh", ["猫坐在垫子上。", "我们今天去公园散步，天气很好！", "他说：“你好”——然后走了。"],
   [["猫在垫子上。", "今天我们去公园散步了，天气非常好！", "他说“你好”，然后离开了。"]], {"tokenize": "zh"}),
  ("zh_mixed_ascii", ["我用Python 3.11写了一个BLEU脚本, 成本$5.00。", "Café € 20 — 好的 → 下一步 ★"],
   [["我用 Python 3.11 写了 BLEU 脚本，成本 $5.00。", "Café €20 — 好 → 下一步 ☆"]], {"tokenize": "zh"}),
  ("zh_as_13a", ["猫坐在垫子上。", "我们今天去公园散步，天气很好！"], [["猫在垫子上。", "今天我们去公园散步了，天气非常好！"]], {}),
  ("intl", ["Él dijo: «¡Hola!», y se fue… 3.5 € / 1.000,50 — ok😀!", "Das ist (wirklich) gut; 2024."],
   [["Él dijo : « ¡ Hola ! » , y se fue … 3.5 € / 1.000,50 — ok 😀 !", "Das ist ( wirklich ) gut ; 2024 ."]], {"tokenize": "intl"}),
  ("char", ["the cat sat", "猫坐在垫子上"], [["the cat is", "猫在垫子上"]], {"tokenize": "char"}),
  ("none", ["the cat sat on the mat .", "hello , world"], [["the cat is on the mat .", "hello world"]], {"tokenize": "none"}),
  ("whitespace", ["  the\tcat  sat\u00a0on the mat \u3000", "x\x1cy z"], [["the cat sat on the mat", "x y z"]], {}),
  ("greek_lower", ["ΟΔΟΣ ΚΑΙ ΣΟΦΙΑ", "İstanbul KELVIN"], [["οδος και σοφια", "i̇stanbul kelvin"]], {"lowercase": True}),
]
BLEU_SENTENCE = [
  ("s_basic", "The cat sat on the mat.", ["The cat is on the mat."], {"effective_order": True}),
  ("s_short", "the cat", ["the cat sat on the mat"], {"effective_order": True}),
  ("s_short_noeff", "the cat", ["the cat sat on the mat"], {}),
  ("s_multi", "a b c d e", ["a b c", "a b c d e f", "b c d e"], {"effective_order": True}),
  ("s_empty", "", ["something here"], {"effective_order": True}),
  ("s_nomatch", "x y z", ["a b c"], {"effective_order": True}),
  ("s_floor", "the cat sat there", ["the cat is here"], {"effective_order": True, "smooth_method": "floor"}),
  ("s_addk", "the cat sat there", ["the cat is here"], {"effective_order": True, "smooth_method": "add-k"}),
  ("s_zh", "猫坐在垫子上。", ["猫在垫子上。"], {"effective_order": True, "tokenize": "zh"}),
]
CHRF = [
  ("c_basic", ["The cat sat on the mat.", "It is a guide to action which ensures that the military always obeys the commands of the party."],
   [["The cat is on the mat.", "It is a guide to action that ensures that the military will forever heed Party commands."]], {}),
  ("c_pp", ["The cat sat on the mat.", "It is a guide to action which ensures that the military always obeys the commands of the party."],
   [["The cat is on the mat.", "It is a guide to action that ensures that the military will forever heed Party commands."]], {"word_order": 2}),
  ("c_multi", ["the cat sat on the mat", "hello there, world!"], [["the cat is on the mat", "hello world"], ["a cat sat on a mat", "hello there world"]], {"word_order": 2}),
  ("c_empty_hyp", ["", "abc def"], [["some text", "abc deg"]], {}),
  ("c_empty_ref", ["some text", "abc def"], [["", "abc deg"]], {"word_order": 2}),
  ("c_no_overlap", ["xyz"], [["abc"]], {}),
  ("c_lower", ["THE Cat.", "Good MORNING!"], [["the cat.", "good morning!"]], {"lowercase": True, "word_order": 2}),
  ("c_zh", ["猫坐在垫子上。", "我们今天去公园散步"], [["猫在垫子上。", "今天我们去公园散步了"]], {}),
  ("c_punct_words", ["(hello) world! a .b c. \"quoted\"", "x"], [["hello world a b c quoted", "x"]], {"word_order": 2}),
  ("c_emoji", ["I like 😀😀 and 🎉!", "naïve café"], [["I like 😀 and 🎉 !", "naive cafe"]], {"word_order": 2}),
  ("c_short", ["a", "ab"], [["a", "abc"]], {}),
]
ROUGE = [
  # (name, targets_per_line (list of lists), predictions, types, use_stemmer)
  ("r_basic", [["The quick brown fox jumps over the lazy dog"]], ["The quick brown dog jumps on the log."], ["rouge1", "rouge2", "rougeL", "rougeLsum"], False),
  ("r_stem", [["The quick brown fox jumps over the lazy dog"]], ["The quick brown dog jumps on the log."], ["rouge1", "rouge2", "rougeL", "rougeLsum"], True),
  ("r_stem_words", [["running runners ran easily generously connections connected"]], ["run runner running easy generous connect connecting"], ["rouge1", "rouge2", "rougeL"], True),
  ("r_nostem_words", [["running runners ran easily generously connections connected"]], ["run runner running easy generous connect connecting"], ["rouge1", "rouge2", "rougeL"], False),
  ("r_lsum", [["the cat sat on the mat\nthe dog barked at the cat\nit was a sunny day"]], ["the cat was on the mat\na dog barked loudly\nthe day was sunny"], ["rouge1", "rouge2", "rougeL", "rougeLsum"], False),
  ("r_lsum_repeat", [["a b c a b\nc a b\n\nd e"]], ["a b\na b c d\nc e a"], ["rougeL", "rougeLsum"], False),
  ("r_multi", [["the cat sat on the mat", "a cat was sitting on the mat", "there is a cat on the mat"]], ["the cat is on the mat"], ["rouge1", "rouge2", "rougeL", "rougeLsum"], False),
  ("r_empty_pred", [["some reference text"]], [""], ["rouge1", "rouge2", "rougeL", "rougeLsum"], False),
  ("r_empty_target", [[""]], ["some prediction"], ["rouge1", "rouge2", "rougeL", "rougeLsum"], False),
  ("r_no_overlap", [["alpha beta gamma"]], ["delta epsilon"], ["rouge1", "rouge2", "rougeL", "rougeLsum"], False),
  ("r_nonascii", [["Café naïve résumé — İstanbul KELVIN 猫坐在垫子上 test"]], ["cafe naive resume istanbul kelvin 猫 test"], ["rouge1", "rouge2", "rougeL"], False),
  ("r_punct_numbers", [["U.S.A. costs $1,000.50 (approx) in 2024; e-mail: a_b@c.com"]], ["USA costs 1000 50 approx in 2024 email a b c com"], ["rouge1", "rouge2", "rougeL", "rougeLsum"], True),
  ("r_rouge3", [["one two three four five six"]], ["one two three five six seven"], ["rouge3", "rouge4"], False),
  ("r_corpus", [["the cat sat on the mat"], ["hello world"], ["a b c d"]], ["the cat is on the mat", "hello there world", "d c b a"], ["rouge1", "rouge2", "rougeL", "rougeLsum"], True),
  ("r_short_stem", [["was has its use uses used"]], ["was has its used using user"], ["rouge1"], True),
]

# Seeded random corpora: mixed scripts, punctuation, numbers, odd whitespace, so differences in tokenization show up.
import random
_rng = random.Random(20261130)
_WORDS = ("the cat sat on mat dog ran away quick brown fox jumps over lazy running runners generously connections "
          "connected happily the the a an of to in Party military commands guide action ensures U.S.A. e-mail "
          "1,000.50 3-4 2.5% $5 (on) [x] {y} \"quoted\" it's don't &amp; &lt;b&gt; -- ... ! ? ; : , . "
          "猫 坐在 垫子上 。 ， “你好” —— 我们 今天 公园 Café naïve résumé İstanbul ΟΔΟΣ σοφία Straße 😀 🎉 € ★ → 10:30 "
          "x--y a/b @home #tag ½ ² Ⅻ").split()
_SPACES = [" ", " ", " ", "  ", "\t", "\u00a0", "\u3000"]

def _sentence(n):
    return "".join(_rng.choice(_WORDS) + _rng.choice(_SPACES) for _ in range(n)).strip(" ")

def _variant(s):
    words = s.split(" ")
    out = []
    for w in words:
        r = _rng.random()
        if r < 0.15: continue
        if r < 0.25: out.append(_rng.choice(_WORDS))
        if r < 0.3: w = w.upper()
        out.append(w)
    if _rng.random() < 0.3: _rng.shuffle(out)
    return " ".join(out)

RANDOM_BLEU = []
RANDOM_CHRF = []
RANDOM_ROUGE = []
for k in range(24):
    lines = _rng.randint(1, 12)
    hyps = [_sentence(_rng.randint(0, 25)) if _rng.random() > 0.05 else "" for _ in range(lines)]
    nrefs = _rng.choice([1, 1, 2, 3])
    refs = [[_variant(h) if _rng.random() > 0.1 else _sentence(_rng.randint(1, 20)) for h in hyps] for _ in range(nrefs)]
    kw = {"tokenize": ["13a", "intl", "zh", "char", "none"][k % 5]}
    if k % 3 == 1: kw["lowercase"] = True
    if k % 4 == 2: kw["smooth_method"] = _rng.choice(["floor", "add-k", "none"])
    if k % 7 == 3: kw["effective_order"] = True
    RANDOM_BLEU.append((f"random_{k}", hyps, refs, kw))
    ckw = {"word_order": [0, 2][k % 2]}
    if k % 3 == 2: ckw["lowercase"] = True
    RANDOM_CHRF.append((f"c_random_{k}", hyps, refs, ckw))
    targets = [["\n".join(_variant(h) for _ in range(_rng.randint(1, 3))) for _ in range(nrefs)] for h in hyps]
    preds = [h.replace(" . ", " .\n") for h in hyps]
    RANDOM_ROUGE.append((f"r_random_{k}", targets, preds, ["rouge1", "rouge2", "rougeL", "rougeLsum"], k % 2 == 0))

BLEU_CORPUS += RANDOM_BLEU
CHRF += RANDOM_CHRF
ROUGE += RANDOM_ROUGE
