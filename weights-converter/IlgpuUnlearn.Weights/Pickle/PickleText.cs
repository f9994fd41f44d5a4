using System.Numerics;

namespace IlgpuUnlearn.Weights.Pickle;

/// <summary>Short, bounded descriptions of pickle values for error messages.</summary>
public static class PickleText
{
    public static string TypeName(object? value) => value switch
    {
        null => "None",
        bool => "bool",
        long or BigInteger => "int",
        double => "float",
        string => "str",
        byte[] => "bytes",
        object?[] => "tuple",
        List<object?> => "list",
        PickleDict => "dict",
        PickleSet set => set.Frozen ? "frozenset" : "set",
        System.Numerics.Complex => "complex",
        OpaqueObject opaque => opaque.What,
        PickleGlobal global => global.FullName,
        _ => value.GetType().Name,
    };

    /// <summary>A short text for a key or scalar: 'text', 12, b'..', or the type name for anything bigger.</summary>
    public static string Describe(object? value)
    {
        const int MaximumLength = 60;
        string text = value switch
        {
            string s => $"'{s}'",
            byte[] b => $"b'{System.Text.Encoding.Latin1.GetString(b, 0, Math.Min(b.Length, MaximumLength))}'",
            long or BigInteger or double or bool => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
            null => "None",
            _ => TypeName(value),
        };
        return text.Length > MaximumLength ? text[..MaximumLength] + "..." : text;
    }
}
