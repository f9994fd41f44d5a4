using System.Text;

namespace IlgpuUnlearn.Weights.Pickle;

/// <summary>The handlers behind <see cref="PickleGlobals.PlainData"/>.</summary>
internal static class PlainDataCalls
{
    public static object? OrderedDict(object?[] args)
    {
        var dict = new PickleDict();
        if (args.Length == 0)
        {
            return dict;
        }
        if (args.Length != 1 || args[0] is not List<object?> pairs)
        {
            throw new FormatException("collections.OrderedDict takes no arguments or one list of pairs");
        }
        foreach (object? pair in pairs)
        {
            if (pair is not object?[] { Length: 2 } keyValue)
            {
                throw new FormatException("collections.OrderedDict's list must hold (key, value) pairs");
            }
            dict.Set(keyValue[0], keyValue[1]);
        }
        return dict;
    }

    /// <summary>collections.Counter(dict): pickled as (Counter, (dict,)); read as its dict.</summary>
    public static object? Counter(object?[] args) => args switch
    {
        [] => new PickleDict(),
        [PickleDict counts] => counts,
        _ => throw new FormatException("collections.Counter takes no arguments or one dict"),
    };

    /// <summary>set(list) and frozenset(list), as protocols 0-3 write them.</summary>
    public static object? Set(object?[] args, bool frozen)
    {
        var set = new PickleSet(frozen);
        if (args is [List<object?> items])
        {
            set.Items.AddRange(items);
        }
        else if (args.Length != 0)
        {
            throw new FormatException($"{(frozen ? "frozenset" : "set")} takes no arguments or one list");
        }
        return set;
    }

    /// <summary>bytearray() and bytes() (empty bytes at protocols 0-2): (bytes,) from protocol 3, (latin-1 str, 'latin-1') before; read as bytes.</summary>
    public static object? ByteArray(object?[] args) => args switch
    {
        [] => Array.Empty<byte>(),
        [byte[] bytes] => bytes,
        [string text, string] => CodecsEncode(args),
        _ => throw new FormatException("bytearray takes bytes, or a str and its encoding"),
    };

    /// <summary>complex(real, imaginary).</summary>
    public static object? Complex(object?[] args) => args switch
    {
        [double real, double imaginary] => new System.Numerics.Complex(real, imaginary),
        [double real] => new System.Numerics.Complex(real, 0),
        _ => throw new FormatException("complex takes (real, imaginary) floats"),
    };

    public static object? CodecsEncode(object?[] args)
    {
        if (args is not [string text, string encoding])
        {
            throw new FormatException("_codecs.encode takes (str, encoding)");
        }
        return encoding.ToLowerInvariant() switch
        {
            "latin1" or "latin-1" or "iso-8859-1" => LatinOneBytes(text),
            "utf-8" or "utf8" => Encoding.UTF8.GetBytes(text),
            "ascii" => LatinOneBytes(text),
            _ => throw new FormatException($"_codecs.encode with encoding '{encoding}' is not supported"),
        };
    }

    private static byte[] LatinOneBytes(string text)
    {
        foreach (char c in text)
        {
            if (c > 0xFF)
            {
                throw new FormatException("_codecs.encode: text has characters outside latin-1");
            }
        }
        return Encoding.Latin1.GetBytes(text);
    }

    public static object? NumpyReconstruct(object?[] args)
    {
        if (args.Length != 3 || args[0] is not PickleGlobal { FullName: "numpy.ndarray" })
        {
            throw new FormatException("numpy _reconstruct takes (numpy.ndarray, shape, dtype)");
        }
        return new NumpyArray();
    }

    /// <summary>numpy's protocol-5 form: _frombuffer(buffer, dtype, shape, order), the buffer in-band.</summary>
    public static object? NumpyFromBuffer(object?[] args)
    {
        if (args is not [var buffer, NumpyDType dtype, object?[] shape, string order] || order is not ("C" or "F"))
        {
            throw new FormatException("numpy _frombuffer takes (buffer, dtype, shape, 'C' or 'F')");
        }
        var array = new NumpyArray();
        array.SetState(new object?[] { 1L, shape, dtype, order == "F", PickleBytes.FromStringOrBytes(buffer, "numpy _frombuffer") });
        return array;
    }

    public static object? NumpyDTypeCall(object?[] args)
    {
        if (args.Length < 1 || args[0] is not string code)
        {
            throw new FormatException("numpy.dtype takes a type code string");
        }
        return new NumpyDType(code);
    }

    public static object? NumpyScalar(object?[] args)
    {
        if (args is not [NumpyDType dtype, var raw])
        {
            throw new FormatException("numpy scalar takes (dtype, bytes)");
        }
        byte[] bytes = PickleBytes.FromStringOrBytes(raw, "numpy scalar");
        var array = new NumpyArray();
        array.SetState(new object?[] { 1L, Array.Empty<object?>(), dtype, false, bytes });
        return array;
    }
}

/// <summary>Raw bytes from a pickle value that is bytes, or a latin-1 str (Python 2's str).</summary>
internal static class PickleBytes
{
    public static byte[] FromStringOrBytes(object? value, string what) => value switch
    {
        byte[] bytes => bytes,
        string text => Encoding.Latin1.GetBytes(text),
        _ => throw new FormatException($"{what}: expected bytes, got {PickleText.TypeName(value)}"),
    };
}
