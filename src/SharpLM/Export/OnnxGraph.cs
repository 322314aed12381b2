using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;

namespace SharpLM.Export;

/// <summary>
/// Builds an ONNX graph node by node over OnnxSharp's protobuf messages (the ONNX standard domain, opset
/// <see cref="Opset"/>): named values, weights as initializers, fresh names for intermediate results.
/// </summary>
internal sealed class OnnxGraph
{
    /// <summary>LayerNormalization needs opset 17; every other operator used is older.</summary>
    public const int Opset = 17;
    const long IrVersion = 8;

    readonly GraphProto _graph = new();
    int _next;

    public OnnxGraph(string name) => _graph.Name = name;

    /// <summary>A fresh value name with a readable stem.</summary>
    string Fresh(string stem) => $"{stem}_{_next++}";

    public void Input(string name, TensorProto.Types.DataType type, params object[] dims) => _graph.Input.Add(Value(name, type, dims));

    public void Output(string name, TensorProto.Types.DataType type, params object[] dims) => _graph.Output.Add(Value(name, type, dims));

    static ValueInfoProto Value(string name, TensorProto.Types.DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(
                d is string p
                    ? new TensorShapeProto.Types.Dimension { DimParam = p }
                    : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d) }
            );
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape },
            },
        };
    }

    /// <summary>A float32 weight (copied from <paramref name="t"/>) as an initializer named <paramref name="name"/>.</summary>
    public string Weight(string name, Tensor t)
    {
        using var c = t.detach().to(ScalarType.Float32).contiguous();
        var proto = new TensorProto
        {
            Name = name,
            DataType = (int)TensorProto.Types.DataType.Float,
            RawData = ByteString.CopyFrom(c.bytes),
        };
        proto.Dims.AddRange(c.shape);
        _graph.Initializer.Add(proto);
        return name;
    }

    public string Int64s(params long[] values)
    {
        var proto = new TensorProto { Name = Fresh("const"), DataType = (int)TensorProto.Types.DataType.Int64 };
        proto.Dims.Add(values.Length);
        proto.Int64Data.AddRange(values);
        _graph.Initializer.Add(proto);
        return proto.Name;
    }

    public string ScalarInt64(long value)
    {
        var proto = new TensorProto { Name = Fresh("const"), DataType = (int)TensorProto.Types.DataType.Int64 };
        proto.Int64Data.Add(value);
        _graph.Initializer.Add(proto);
        return proto.Name;
    }

    public string ScalarFloat(float value)
    {
        var proto = new TensorProto { Name = Fresh("const"), DataType = (int)TensorProto.Types.DataType.Float };
        proto.FloatData.Add(value);
        _graph.Initializer.Add(proto);
        return proto.Name;
    }

    /// <summary>Adds a node and returns its (single) output's name; <paramref name="output"/> names it, else a fresh name.</summary>
    public string Node(string op, string[] inputs, string? output = null, params (string Name, object Value)[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = Fresh(op) };
        node.Input.AddRange(inputs);
        string result = output ?? Fresh(op.ToLowerInvariant());
        node.Output.Add(result);
        foreach (var (name, value) in attributes)
            node.Attribute.Add(Attribute(name, value));
        _graph.Node.Add(node);
        return result;
    }

    static AttributeProto Attribute(string name, object value)
    {
        var a = new AttributeProto { Name = name };
        switch (value)
        {
            case long i:
                a.Type = AttributeProto.Types.AttributeType.Int;
                a.I = i;
                break;
            case int i:
                a.Type = AttributeProto.Types.AttributeType.Int;
                a.I = i;
                break;
            case float f:
                a.Type = AttributeProto.Types.AttributeType.Float;
                a.F = f;
                break;
            case long[] ints:
                a.Type = AttributeProto.Types.AttributeType.Ints;
                a.Ints.AddRange(ints);
                break;
            default:
                throw new ArgumentException($"Attribute {name}: unsupported value type {value.GetType().Name}.", nameof(value));
        }
        return a;
    }

    // The operators the exporters use, named as in the ONNX operator list.
    public string Add(string a, string b, string? output = null) => Node("Add", [a, b], output);

    public string Sub(string a, string b) => Node("Sub", [a, b]);

    public string Mul(string a, string b) => Node("Mul", [a, b]);

    public string MatMul(string a, string b) => Node("MatMul", [a, b]);

    public string Gather(string data, string indices, long axis = 0) => Node("Gather", [data, indices], null, ("axis", axis));

    public string Transpose(string x, params long[] perm) => Node("Transpose", [x], null, ("perm", perm));

    public string Reshape(string x, params long[] shape) => Node("Reshape", [x, Int64s(shape)]);

    public string Unsqueeze(string x, params long[] axes) => Node("Unsqueeze", [x, Int64s(axes)]);

    public string Concat(long axis, string? output, params string[] xs) => Node("Concat", xs, output, ("axis", axis));

    public string Shape(string x) => Node("Shape", [x]);

    public string Cast(string x, TensorProto.Types.DataType to) => Node("Cast", [x], null, ("to", (long)to));

    public string Softmax(string x) => Node("Softmax", [x], null, ("axis", -1L));

    public string LayerNorm(string x, string weight, string bias, double epsilon) =>
        Node("LayerNormalization", [x, weight, bias], null, ("axis", -1L), ("epsilon", (float)epsilon));

    /// <summary>x·Wᵀ + b for a Linear's weight [out, in] (stored transposed, [in, out], so the product is a plain MatMul).</summary>
    public string Linear(string x, string name, Tensor weight, Tensor? bias)
    {
        var y = MatMul(x, Weight(name + ".weight", weight.t()));
        return bias is null ? y : Add(y, Weight(name + ".bias", bias));
    }

    /// <summary>LayerNorm with the weights named <paramref name="name"/>.weight and .bias.</summary>
    public string LayerNorm(string x, string name, IReadOnlyDictionary<string, Tensor> w, double epsilon) =>
        LayerNorm(x, Weight(name + ".weight", w[name + ".weight"]), Weight(name + ".bias", w[name + ".bias"]), epsilon);

    /// <summary>The Linear whose weight and bias are named <paramref name="name"/>.weight and .bias.</summary>
    public string Linear(string x, string name, IReadOnlyDictionary<string, Tensor> w) =>
        Linear(x, name, w[name + ".weight"], w[name + ".bias"]);

    /// <summary>
    /// Scaled dot-product attention over heads: softmax(q·kᵀ/√d) with disallowed keys at the lowest float (so a row
    /// with every key disallowed is uniform, not NaN), then the heads merged back into one width.
    /// </summary>
    public sealed class Attention(OnnxGraph g, string allowed, int heads, int headDim)
    {
        readonly string _lowest = g.ScalarFloat(float.MinValue);
        readonly string _scale = g.ScalarFloat((float)(1 / Math.Sqrt(headDim)));

        /// <summary>[B, S, heads·d] → [B, heads, S, d].</summary>
        public string SplitHeads(string t) => g.Transpose(g.Reshape(t, 0, 0, heads, headDim), 0, 2, 1, 3);

        /// <summary>Queries [B, H, S, d] over keys and values [B, H, T, d] → context [B, S, H·d].</summary>
        public string Context(string q, string k, string v)
        {
            var scores = g.Mul(g.MatMul(q, g.Transpose(k, 0, 1, 3, 2)), _scale);
            var probs = g.Softmax(g.Node("Where", [allowed, scores, _lowest]));
            return g.Reshape(g.Transpose(g.MatMul(probs, v), 0, 2, 1, 3), 0, 0, heads * headDim);
        }
    }

    /// <summary>The activations of <see cref="Models.Layers.Activation"/>, written with opset-17 operators.</summary>
    public string Activation(string name, string x) =>
        name switch
        {
            // 0.5·x·(1 + erf(x/√2))
            "gelu" => Mul(Mul(x, ScalarFloat(0.5f)), Add(Node("Erf", [Mul(x, ScalarFloat((float)(1 / Math.Sqrt(2))))]), ScalarFloat(1f))),
            // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
            "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => Mul(
                Mul(x, ScalarFloat(0.5f)),
                Add(
                    Node("Tanh", [Mul(Add(x, Mul(Mul(Mul(x, x), x), ScalarFloat(0.044715f))), ScalarFloat((float)Math.Sqrt(2 / Math.PI)))]),
                    ScalarFloat(1f)
                )
            ),
            "relu" => Node("Relu", [x]),
            "silu" or "swish" => Mul(x, Node("Sigmoid", [x])),
            _ => throw new ArgumentException($"Unknown activation '{name}'.", nameof(name)),
        };

    /// <summary>The finished model (opset <see cref="Opset"/>), with SharpLM as its producer.</summary>
    public ModelProto Model(IReadOnlyDictionary<string, string> metadata)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "SharpLM",
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (k, v) in metadata)
            model.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
        return model;
    }
}
