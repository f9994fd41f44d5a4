using System.Numerics;

namespace IlgpuUnlearn.Weights.Pickle;

/// <summary>A dict key with Python's value equality; refuses unhashable keys and very deep tuples.</summary>
internal readonly struct PickleKey : IEquatable<PickleKey>
{
    private const int MaximumTupleDepth = 64;
    private readonly object? _value;
    private readonly int _hash;

    public PickleKey(object? value)
    {
        _value = value;
        _hash = HashOf(value, 0);
    }

    public bool Equals(PickleKey other) => _hash == other._hash && ValuesEqual(_value, other._value, 0);

    public override bool Equals(object? obj) => obj is PickleKey other && Equals(other);

    public override int GetHashCode() => _hash;

    private static int HashOf(object? value, int depth)
    {
        if (depth > MaximumTupleDepth)
        {
            throw new FormatException("a dict key nests tuples too deeply");
        }
        switch (value)
        {
            case null: return 0;
            case bool flag: return flag ? 1 : 0;
            case long number: return number.GetHashCode();
            case BigInteger big: return big.GetHashCode();
            case double real: return real.GetHashCode();
            case string text: return StringComparer.Ordinal.GetHashCode(text);
            case byte[] bytes:
                var byteHash = new HashCode();
                byteHash.AddBytes(bytes);
                return byteHash.ToHashCode();
            case PickleGlobal global: return global.GetHashCode();
            case System.Numerics.Complex complex: return complex.GetHashCode();
            case OpaqueObject or PickleSet: return System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(value); // by identity
            case object?[] tuple:
                var tupleHash = new HashCode();
                foreach (object? item in tuple)
                {
                    tupleHash.Add(HashOf(item, depth + 1));
                }
                return tupleHash.ToHashCode();
            default:
                throw new FormatException($"unhashable dict key of type {PickleText.TypeName(value)}");
        }
    }

    private static bool ValuesEqual(object? left, object? right, int depth)
    {
        if (depth > MaximumTupleDepth)
        {
            return false;
        }
        return (left, right) switch
        {
            (null, null) => true,
            (byte[] a, byte[] b) => a.AsSpan().SequenceEqual(b),
            (object?[] a, object?[] b) => a.Length == b.Length && a.Zip(b).All(pair => ValuesEqual(pair.First, pair.Second, depth + 1)),
            (null, _) or (_, null) => false,
            _ => left.GetType() == right.GetType() && left.Equals(right),
        };
    }
}
