"""Writes tests/SharpLM.Tests/Fixtures/task-metrics.json: random tag sequences scored by seqeval (default and strict
mode, classification_report) and a random SQuAD 2.0 file scored by the official evaluate-v2.0.py, for
TaskMetricsTests to compare SharpLM's scorers with.

Run with Debian's python3 (+ python3-numpy) on the reference implementations, brought beside the project, not into it:
  SEQEVAL=path/to/seqeval-checkout SQUAD_EVAL=path/to/evaluate-v2.0.py python3 make_cases.py
Used: seqeval at git cd01b52 (1.2.2; its sklearn import is stubbed, only a warning class comes from it) and
SQuAD-explorer's evaluate-v2.0.py.
"""
import importlib.util, io, json, os, random, sys, types, warnings, contextlib

sys.modules['sklearn'] = types.ModuleType('sklearn')
exceptions = types.ModuleType('sklearn.exceptions')
exceptions.UndefinedMetricWarning = type('UndefinedMetricWarning', (UserWarning,), {})
sys.modules['sklearn.exceptions'] = exceptions
sys.path.insert(0, os.environ['SEQEVAL'])
warnings.simplefilter('ignore')
from seqeval.metrics import classification_report  # noqa: E402

spec = importlib.util.spec_from_file_location('squad_eval', os.environ['SQUAD_EVAL'])
squad = importlib.util.module_from_spec(spec)
spec.loader.exec_module(squad)

out = {'seqeval': [], 'squad': []}
tag_sets = {
    'iob2': ['O', 'O', 'O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'I-ORG', 'B-ORG'],
    'iobes': ['O', 'O', 'B-PER', 'I-PER', 'E-PER', 'S-PER', 'B-LOC', 'E-LOC', 'S-LOC', 'I-LOC'],
}
for seed in range(6):
    name = 'iob2' if seed % 2 == 0 else 'iobes'
    rng = random.Random(seed)
    tags = tag_sets[name]
    ref, hyp = [], []
    for _ in range(25):
        n = rng.randint(1, 10)
        r = [rng.choice(tags) for _ in range(n)]
        ref.append(r)
        hyp.append([t if rng.random() < 0.7 else rng.choice(tags) for t in r])
    out['seqeval'].append({
        'ref': ref, 'hyp': hyp,
        'default': classification_report(ref, hyp, output_dict=True),
        'strict': classification_report(ref, hyp, output_dict=True, mode='strict'),
        'text': classification_report(ref, hyp, digits=4),
    })

rng = random.Random(1)
words = ['the', 'a', 'an', 'Whale', 'whale', 'white', 'Ahab', 'ship', 'sea,', '"Pequod"', 'Ishmael.', 'an-apple', 'the.',
         'naïve', 'Σίσυφος', 'İstanbul', 'THE', '  ', 'x_y']
def phrase():
    return ' '.join(rng.choice(words) for _ in range(rng.randint(0, 4)))
qas, preds, na = [], {}, {}
for i in range(60):
    answers = [] if rng.random() < 0.3 else [{'text': phrase(), 'answer_start': 0} for _ in range(rng.randint(1, 3))]
    qas.append({'id': 'q%d' % i, 'question': '?', 'answers': answers, 'is_impossible': not answers})
    r = rng.random()
    preds['q%d' % i] = '' if r < 0.2 else (answers[0]['text'] if answers and r < 0.5 else phrase())
    na['q%d' % i] = round(rng.random(), 2)
data = {'version': 'v2.0', 'data': [{'title': 't', 'paragraphs': [{'context': 'c', 'qas': qas}]}]}
dataset = data['data']
for threshold, with_na in [(1.0, False), (1.0, True), (0.4, True)]:
    probs = na if with_na else {k: 0.0 for k in preds}
    has = squad.make_qid_to_has_ans(dataset)
    exact_raw, f1_raw = squad.get_raw_scores(dataset, preds)
    e = squad.apply_no_ans_threshold(exact_raw, probs, has, threshold)
    f = squad.apply_no_ans_threshold(f1_raw, probs, has, threshold)
    result = squad.make_eval_dict(e, f)
    squad.merge_eval(result, squad.make_eval_dict(e, f, qid_list=[k for k, v in has.items() if v]), 'HasAns')
    squad.merge_eval(result, squad.make_eval_dict(e, f, qid_list=[k for k, v in has.items() if not v]), 'NoAns')
    if with_na:
        squad.find_all_best_thresh(result, preds, exact_raw, f1_raw, probs, has)
    out['squad'].append({'threshold': threshold, 'na_prob': with_na, 'expected': result})
out['squad_files'] = {'data': data, 'pred': preds, 'na_prob': na}
json.dump(out, open(sys.argv[1] if len(sys.argv) > 1 else 'task-metrics.json', 'w'), ensure_ascii=False, indent=1, default=float)
