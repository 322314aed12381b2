# Derives SharpLM's text-metric test vectors from the reference implementations (sacrebleu 2.6.0 from
# github.com/mjpost/sacrebleu; rouge-score's rouge_scorer from github.com/google-research/google-research/rouge with
# NLTK 3.8's PorterStemmer). See README.md for the set-up; then:
#   PYTHONPATH=/tmp/ref python3 make_vectors.py > tests/SharpLM.Tests/Fixtures/text-metrics.json
import json, sys, re, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sacrebleu.metrics import BLEU, CHRF
from rouge import rouge_scorer
from nltk.stem import porter
import cases

out = {"bleu_corpus": [], "bleu_sentence": [], "chrf": [], "rouge": [], "porter": []}
for name, hyps, refs, kw in cases.BLEU_CORPUS:
    m = BLEU(**kw); s = m.corpus_score(hyps, refs)
    out["bleu_corpus"].append(dict(name=name, hyps=hyps, refs=refs, options=kw, score=s.score, counts=[float(c) for c in s.counts],
        totals=[float(t) for t in s.totals], precisions=s.precisions, bp=s.bp, sys_len=s.sys_len, ref_len=s.ref_len,
        signature=str(m.get_signature()), tokenized=[m._preprocess_segment(h) for h in hyps]))
for name, hyp, refs, kw in cases.BLEU_SENTENCE:
    m = BLEU(**kw); s = m.sentence_score(hyp, refs)
    out["bleu_sentence"].append(dict(name=name, hyp=hyp, refs=refs, options=kw, score=s.score, bp=s.bp, signature=str(m.get_signature())))
for name, hyps, refs, kw in cases.CHRF:
    m = CHRF(**kw); s = m.corpus_score(hyps, refs)
    sent = [m.sentence_score(h, [r[i] for r in refs]).score for i, h in enumerate(hyps)]
    out["chrf"].append(dict(name=name, hyps=hyps, refs=refs, options=kw, score=s.score, name_=s.name, sentence=sent, signature=str(m.get_signature())))
for name, targets, preds, types, stem in cases.ROUGE:
    sc = rouge_scorer.RougeScorer(types, use_stemmer=stem)
    lines = []
    for t, p in zip(targets, preds):
        r = sc.score_multi(t, p) if len(t) > 1 else sc.score(t[0], p)
        lines.append({k: [v.precision, v.recall, v.fmeasure] for k, v in r.items()})
    out["rouge"].append(dict(name=name, targets=targets, predictions=preds, types=types, stem=stem, lines=lines))
# Porter: words from Python's own docstrings and a list of suffix-rich words.
words = set()
import glob
for f in sorted(glob.glob('/usr/lib/python3.11/*.py'))[:25]:
    for w in re.findall(r"[a-z]+", open(f, encoding='utf-8', errors='ignore').read().lower()):
        if len(w) > 2: words.add(w)
extra = "dying lying tying skies sky news innings outings cannings howe proceed exceed succeed ties pies dies lies spied tied flies spy fly try enjoy enjoyment happily generously fully hopefully analogously radically feudalism sensibility formality sensitivity conditional relational rational valency hesitancy digitizer conformably radicalli differentli vileli analogousli vietnamization predication operator decisiveness hopefulness callousness formaliti sensitiviti sensibiliti triplicate formative formalize electriciti electrical hopeful goodness revival allowance inference airliner gyroscopic adjustable defensible irritant replacement adjustment dependent adoption homologou communism activate angulariti homologous effective bowdlerize probate rate cease controll roll agreed feed plastered bled motoring sing conflated troubled sized hopping tanned falling hissing fizzed failing filing caresses ponies caress cats archaeology apology theology eulogy biology geology falli fulli logi".split()
words.update(extra)
stemmer = porter.PorterStemmer()
out["porter"] = [[w, stemmer.stem(w)] for w in sorted(words)]
json.dump(out, sys.stdout, ensure_ascii=False, indent=0)
