using System.Buffers.Binary;

namespace IlgpuUnlearn.Weights.Pickle;

/// <summary>A numpy dtype as plain data: its type code ("u1", "f4", "i8", ...) and byte order.</summary>
public sealed class NumpyDType : IPickleBuildable
{
    public NumpyDType(string code)
    {
        Code = code;
    }

    /// <summary>The code given to numpy.dtype, e.g. "u1" or "f8".</summary>
    public string Code { get; }

    /// <summary>'|' (not applicable), '&lt;' (little-endian) or '&gt;' (big-endian), from the dtype's state.</summary>
    public char ByteOrder { get; private set; } = '<';

    /// <summary>The element size in bytes, from the code's digits.</summary>
    public int ItemSize => Code.Length >= 2 && int.TryParse(Code.AsSpan(1), out int size) ? size : 0;

    /// <summary>The kind letter: 'u' unsigned, 'i' signed, 'f' float, 'b' bool.</summary>
    public char Kind => Code.Length > 0 ? Code[0] : '?';

    public void SetState(object? state)
    {
        if (state is not object?[] { Length: >= 2 } tuple || tuple[1] is not string order || order.Length != 1)
        {
            throw new FormatException("numpy.dtype state must be a tuple (version, byteorder, ...)");
        }
        ByteOrder = order[0];
    }

    public override string ToString() => $"{ByteOrder}{Code}";
}

/// <summary>A numpy array as plain data: shape, dtype and the raw element bytes (C order unless FortranOrder).</summary>
public sealed class NumpyArray : IPickleBuildable
{
    public long[] Shape { get; private set; } = [];

    public NumpyDType DType { get; private set; } = new("u1");

    public bool FortranOrder { get; private set; }

    public byte[] Data { get; private set; } = [];

    public long ElementCount => Shape.Aggregate(1L, (count, dimension) => checked(count * dimension));

    public void SetState(object? state)
    {
        // ndarray.__setstate__((version, shape, dtype, is_fortran, rawdata)), version optional.
        if (state is not object?[] tuple || tuple.Length is not (4 or 5))
        {
            throw new FormatException("numpy array state must be (version, shape, dtype, fortran, data)");
        }
        int first = tuple.Length == 5 ? 1 : 0;
        if (tuple[first] is not object?[] shape || tuple[first + 1] is not NumpyDType dtype || tuple[first + 2] is not bool fortran)
        {
            throw new FormatException("numpy array state has the wrong types");
        }
        var dimensions = new long[shape.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            dimensions[i] = shape[i] is long d and >= 0 ? d : throw new FormatException("numpy array shape must hold non-negative ints");
        }
        byte[] data = PickleBytes.FromStringOrBytes(tuple[first + 3], "numpy array data");
        Shape = dimensions;
        DType = dtype;
        FortranOrder = fortran;
        Data = data;
        long expected;
        try
        {
            expected = checked(ElementCount * dtype.ItemSize);
        }
        catch (OverflowException)
        {
            throw new FormatException("numpy array shape is too large");
        }
        if (expected != data.LongLength)
        {
            throw new FormatException($"numpy array of shape [{string.Join(", ", dimensions)}] and dtype {dtype} needs {expected} bytes, has {data.LongLength}");
        }
    }

    /// <summary>The elements of a uint8 array (CIFAR-10 pixels).</summary>
    public byte[] AsBytes() =>
        DType.Kind is 'u' or 'b' && DType.ItemSize == 1 ? Data : throw new InvalidOperationException($"dtype {DType} is not uint8");

    /// <summary>The elements of an integer array as int64.</summary>
    public long[] ToInt64()
    {
        int size = DType.ItemSize;
        bool bigEndian = DType.ByteOrder == '>';
        var values = new long[ElementCount];
        for (int i = 0; i < values.Length; i++)
        {
            ReadOnlySpan<byte> bytes = Data.AsSpan(i * size, size);
            values[i] = (DType.Kind, size) switch
            {
                ('u' or 'b', 1) => bytes[0],
                ('i', 1) => (sbyte)bytes[0],
                ('u', 2) => bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(bytes) : BinaryPrimitives.ReadUInt16LittleEndian(bytes),
                ('i', 2) => bigEndian ? BinaryPrimitives.ReadInt16BigEndian(bytes) : BinaryPrimitives.ReadInt16LittleEndian(bytes),
                ('u', 4) => bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt32LittleEndian(bytes),
                ('i', 4) => bigEndian ? BinaryPrimitives.ReadInt32BigEndian(bytes) : BinaryPrimitives.ReadInt32LittleEndian(bytes),
                ('i' or 'u', 8) => bigEndian ? BinaryPrimitives.ReadInt64BigEndian(bytes) : BinaryPrimitives.ReadInt64LittleEndian(bytes),
                _ => throw new InvalidOperationException($"dtype {DType} is not an integer dtype"),
            };
        }
        return values;
    }
}
