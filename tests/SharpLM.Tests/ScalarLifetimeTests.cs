using System.Collections.Immutable;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace SharpLM.Tests;

/// <summary>
/// TorchSharp's <c>Scalar</c> frees its native value in a finalizer, and TorchSharp hands libtorch only the raw handle.
/// A Scalar made by an implicit conversion (<c>t * 0.5</c>, <c>t.add_(g, alpha: 0.1)</c>, TorchSharp's own optimizers)
/// is unreachable once its handle is read, so a garbage collection started by another thread can free it while libtorch
/// still reads it: a crash ("Expected false to be true" from c10's Scalar) or, worse, a wrong value. It happened in this
/// suite (an AdamW step while a server test allocated). So SharpLM makes every Scalar through <c>Runtime.Scalars</c>,
/// which keeps them alive until the work that uses them is done. This test reads the compiled IL of every SharpLM
/// assembly and fails on any other way to make a Scalar: an implicit conversion, a bare ToScalar, a TorchSharp method
/// that converts a number inside (found by reading TorchSharp's own IL), or a TorchSharp optimizer's step.
/// </summary>
public class ScalarLifetimeTests
{
    /// <summary>A method as "Type::Name(param types)", the same whether read from its definition or from a call site.</summary>
    sealed class Names : ISignatureTypeProvider<string, object?>
    {
        public static readonly Names Instance = new();

        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();

        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) =>
            reader.GetString(reader.GetTypeDefinition(handle).Name);

        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) =>
            reader.GetString(reader.GetTypeReference(handle).Name);

        public string GetTypeFromSpecification(MetadataReader reader, object? context, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, context);

        public string GetSZArrayType(string elementType) => elementType + "[]";

        public string GetArrayType(string elementType, ArrayShape shape) => elementType + "[,]";

        public string GetByReferenceType(string elementType) => elementType + "&";

        public string GetPointerType(string elementType) => elementType + "*";

        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) =>
            $"{genericType}<{string.Join(",", typeArguments)}>";

        public string GetGenericMethodParameter(object? context, int index) => $"!!{index}";

        public string GetGenericTypeParameter(object? context, int index) => $"!{index}";

        public string GetFunctionPointerType(MethodSignature<string> signature) => "fnptr";

        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;

        public string GetPinnedType(string elementType) => elementType;
    }

    sealed record Call(string Caller, string Callee);

    /// <summary>Every call in an assembly's method bodies.</summary>
    static List<Call> Calls(string path)
    {
        using var pe = new PEReader(File.OpenRead(path));
        var md = pe.GetMetadataReader();
        string Key(EntityHandle h) =>
            h.Kind switch
            {
                HandleKind.MethodDefinition => Definition(md, (MethodDefinitionHandle)h),
                HandleKind.MemberReference => Reference(md, (MemberReferenceHandle)h),
                HandleKind.MethodSpecification => Key(md.GetMethodSpecification((MethodSpecificationHandle)h).Method),
                _ => "?",
            };
        var calls = new List<Call>();
        foreach (var mh in md.MethodDefinitions)
        {
            var method = md.GetMethodDefinition(mh);
            if (method.RelativeVirtualAddress == 0)
                continue;
            string caller = Definition(md, mh);
            var il = pe.GetMethodBody(method.RelativeVirtualAddress).GetILReader();
            var instructions = new List<(int Offset, ILOpCode Op, int Operand)>();
            while (il.RemainingBytes > 0)
            {
                int offset = il.Offset;
                var op = ReadOpCode(ref il);
                int operand = ReadOperand(ref il, op);
                instructions.Add((offset, op, operand));
            }
            foreach (var (_, op, operand) in instructions)
                if (op is ILOpCode.Call or ILOpCode.Callvirt or ILOpCode.Newobj)
                    calls.Add(new Call(caller, Key(MetadataTokens.EntityHandle(operand))));
        }
        return calls;
    }

    static string Definition(MetadataReader md, MethodDefinitionHandle h)
    {
        var d = md.GetMethodDefinition(h);
        var signature = d.DecodeSignature(Names.Instance, null);
        string type = md.GetString(md.GetTypeDefinition(d.GetDeclaringType()).Name);
        return $"{type}::{md.GetString(d.Name)}({string.Join(",", signature.ParameterTypes)})";
    }

    static string Reference(MetadataReader md, MemberReferenceHandle h)
    {
        var m = md.GetMemberReference(h);
        if (m.GetKind() != MemberReferenceKind.Method)
            return "field";
        string parent = m.Parent.Kind switch
        {
            HandleKind.TypeReference => md.GetString(md.GetTypeReference((TypeReferenceHandle)m.Parent).Name),
            HandleKind.TypeDefinition => md.GetString(md.GetTypeDefinition((TypeDefinitionHandle)m.Parent).Name),
            HandleKind.TypeSpecification => md.GetTypeSpecification((TypeSpecificationHandle)m.Parent)
                .DecodeSignature(Names.Instance, null)
                .Split('<')[0],
            _ => "?",
        };
        var signature = m.DecodeMethodSignature(Names.Instance, null);
        return $"{parent}::{md.GetString(m.Name)}({string.Join(",", signature.ParameterTypes)})";
    }

    static ILOpCode ReadOpCode(ref BlobReader il)
    {
        byte b = il.ReadByte();
        return b == 0xFE ? (ILOpCode)(0xFE00 | il.ReadByte()) : (ILOpCode)b;
    }

    static int ReadOperand(ref BlobReader il, ILOpCode op)
    {
        switch (op)
        {
            case ILOpCode.Switch:
                int targets = il.ReadInt32(); // read first: `il.Offset += 4 * il.ReadInt32()` would read Offset before the count
                il.Offset += 4 * targets;
                return 0;
            case ILOpCode.Ldc_i8 or ILOpCode.Ldc_r8:
                il.Offset += 8;
                return 0;
            case ILOpCode.Ldarg or ILOpCode.Ldarga or ILOpCode.Starg or ILOpCode.Ldloc or ILOpCode.Ldloca or ILOpCode.Stloc:
                return il.ReadUInt16();
        }
        if (op.IsBranch())
            return op == op.GetShortBranch() ? il.ReadSByte() : il.ReadInt32();
        return op switch
        {
            ILOpCode.Ldarg_s
            or ILOpCode.Ldarga_s
            or ILOpCode.Starg_s
            or ILOpCode.Ldloc_s
            or ILOpCode.Ldloca_s
            or ILOpCode.Stloc_s
            or ILOpCode.Ldc_i4_s
            or ILOpCode.Unaligned => il.ReadByte(),
            ILOpCode.Ldc_i4
            or ILOpCode.Ldc_r4
            or ILOpCode.Jmp
            or ILOpCode.Call
            or ILOpCode.Calli
            or ILOpCode.Callvirt
            or ILOpCode.Cpobj
            or ILOpCode.Ldobj
            or ILOpCode.Ldstr
            or ILOpCode.Newobj
            or ILOpCode.Castclass
            or ILOpCode.Isinst
            or ILOpCode.Unbox
            or ILOpCode.Ldfld
            or ILOpCode.Ldflda
            or ILOpCode.Stfld
            or ILOpCode.Ldsfld
            or ILOpCode.Ldsflda
            or ILOpCode.Stsfld
            or ILOpCode.Stobj
            or ILOpCode.Box
            or ILOpCode.Newarr
            or ILOpCode.Ldelema
            or ILOpCode.Ldelem
            or ILOpCode.Stelem
            or ILOpCode.Unbox_any
            or ILOpCode.Refanyval
            or ILOpCode.Mkrefany
            or ILOpCode.Ldtoken
            or ILOpCode.Ldftn
            or ILOpCode.Ldvirtftn
            or ILOpCode.Initobj
            or ILOpCode.Constrained
            or ILOpCode.Sizeof => il.ReadInt32(),
            _ => 0,
        };
    }

    static bool MakesScalar(string callee) =>
        callee.StartsWith("Scalar::op_Implicit(", StringComparison.Ordinal)
        || callee.StartsWith("ScalarExtensionMethods::To", StringComparison.Ordinal) && callee.Contains("Scalar(");

    /// <summary>TorchSharp methods that turn a number into a Scalar inside (directly or through another such method).</summary>
    static HashSet<string> ConvertingTorchSharpMethods()
    {
        string torchSharp = typeof(TorchSharp.torch).Assembly.Location;
        var calls = Calls(torchSharp).Where(c => !c.Caller.StartsWith("Scalar", StringComparison.Ordinal)).ToList();
        var converting = calls.Where(c => MakesScalar(c.Callee)).Select(c => c.Caller).ToHashSet();
        var callers = calls.GroupBy(c => c.Callee).ToDictionary(g => g.Key, g => g.Select(c => c.Caller).ToList());
        var work = new Queue<string>(converting);
        while (work.TryDequeue(out var m))
            foreach (var caller in callers.GetValueOrDefault(m) ?? [])
                if (converting.Add(caller))
                    work.Enqueue(caller);
        return converting;
    }

    [Fact]
    public void EveryScalarIsKeptAliveWhileLibtorchUsesIt()
    {
        var converting = ConvertingTorchSharpMethods();
        Assert.Contains(converting, m => m.StartsWith("AdamW::", StringComparison.Ordinal)); // the scan sees what it must
        Assert.Contains("Tensor::op_Multiply(Tensor,Double)", converting);
        Assert.DoesNotContain("Tensor::op_Multiply(Tensor,Tensor)", converting);

        var assemblies = new[]
        {
            "SharpLM.Core.dll",
            "SharpLM.Server.dll",
            "sharplm.dll",
            "sharplm-bench.dll",
            "sharplm-fuzz.dll",
            "SharpLM.Tests.dll",
        }
            .Select(f => Path.Combine(AppContext.BaseDirectory, f))
            .ToList();
        var problems = new List<string>();
        foreach (var assembly in assemblies)
        {
            Assert.True(File.Exists(assembly), assembly);
            foreach (var c in Calls(assembly))
            {
                bool inHelper = c.Caller.StartsWith("Scalars::", StringComparison.Ordinal);
                if (MakesScalar(c.Callee) && !inHelper)
                    problems.Add($"{Path.GetFileName(assembly)}: {c.Caller} makes a Scalar with {c.Callee}");
                else if (converting.Contains(c.Callee))
                    problems.Add($"{Path.GetFileName(assembly)}: {c.Caller} calls {c.Callee}, which makes a Scalar inside");
                else if (c.Callee.EndsWith("::step(Func`1<Tensor>)", StringComparison.Ordinal))
                    problems.Add($"{Path.GetFileName(assembly)}: {c.Caller} calls a TorchSharp optimizer's step ({c.Callee})");
            }
        }
        Assert.True(problems.Count == 0, "Make scalars with Runtime.Scalars instead:\n" + string.Join("\n", problems.Distinct().Order()));
    }
}
