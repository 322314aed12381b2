using SharpLM.Kinds;
using SharpLM.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Pipelines;

public sealed record FillMaskCandidate(string Token, long Id, double Probability);

/// <summary>The candidates for one [MASK], at its token position in the encoded input ([CLS] is position 0).</summary>
public sealed record MaskPrediction(int Position, FillMaskCandidate[] Candidates);

/// <summary>The most likely tokens for each [MASK] in a text, with a masked-LM BERT run.</summary>
public sealed class FillMaskPipeline : IPipeline
{
    readonly BertForMaskedLm _mlm;
    readonly int _mask,
        _cls,
        _sep;
    readonly Lock _gate = new();

    public FillMaskPipeline(LoadedModel model)
    {
        Model = model;
        _mlm = model.As<BertForMaskedLm>("fill-mask");
        _mlm.RequireMaskedLmHead("fill-mask");
        int Special(string t) =>
            model.Tokenizer.SpecialTokenId(t)
            ?? throw new SharpLMException($"{model.Run.Tokenizer} has no {t} token; fill-mask needs a BERT (WordPiece) tokenizer.");
        (_mask, _cls, _sep) = (Special("[MASK]"), Special("[CLS]"), Special("[SEP]"));
    }

    public static FillMaskPipeline Load(string path) => new(ModelRegistry.Load(path));

    public string Task => "fill-mask";
    public LoadedModel Model { get; }

    /// <summary>The <paramref name="top"/> candidates for every [MASK] (texts longer than the model's context are cut).</summary>
    public IReadOnlyList<MaskPrediction> Predict(string text, int top = 5)
    {
        if (top < 1)
            throw new SharpLMException($"top must be at least 1 (got {top}).");
        var tokenizer = Model.Tokenizer;
        long[] ids =
        [
            _cls,
            .. tokenizer.Encode(text, allowSpecial: true).Take(_mlm.Config.MaxPositionEmbeddings - 2).Select(i => (long)i),
            _sep,
        ];
        var positions = Enumerable.Range(0, ids.Length).Where(i => ids[i] == _mask).ToArray();
        if (positions.Length == 0)
            throw new SharpLMException("The text has no [MASK] token; write [MASK] where the model should fill in a word.");
        var results = new List<MaskPrediction>();
        lock (_gate)
        {
            using var scope = NewDisposeScope();
            using var inference = new Runtime.InferenceScope(_mlm);
            var probabilities = _mlm.forward(tensor(ids, [1, ids.Length]), ones(1, ids.Length, ScalarType.Bool)).softmax(-1);
            foreach (int position in positions)
            {
                var (values, indices) = probabilities[0, position].topk(Math.Min(top, tokenizer.VocabSize));
                var v = values.data<float>().ToArray();
                var ix = indices.data<long>().ToArray();
                results.Add(
                    new MaskPrediction(
                        position,
                        ix.Select((id, j) => new FillMaskCandidate(tokenizer.TokenText((int)id), id, v[j])).ToArray()
                    )
                );
            }
        }
        return results;
    }

    public void Dispose() => Model.Dispose();
}
