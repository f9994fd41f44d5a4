using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace IlgpuUnlearn.Weights.Pickle;

/// <summary>
/// A numpy dtype as plain data: its type code ("u1", "f4", "U3", "b1", ...), byte order and element size. numpy pickles
/// a dtype as numpy.dtype(code, False, True) followed by BUILD with (version, byteorder, subarray, names, fields,
/// elsize, alignment, flags); the element size of string dtypes comes from there (a "U3" element is 12 bytes, UCS-4).
/// </summary>
public sealed class NumpyDType : IPickleBuildable
{
    private int _stateItemSize;

    public NumpyDType(string code)
    {
        Code = code;
    }

    /// <summary>The code given to numpy.dtype, e.g. "u1", "f8", "U3", "S2", "b1", "O8".</summary>
    public string Code { get; }

    /// <summary>'|' (not applicable), '&lt;' (little-endian) or '&gt;' (big-endian), from the dtype's state.</summary>
    public char ByteOrder { get; private set; } = '<';

    /// <summary>
    /// The kind letter: 'u' unsigned, 'i' signed, 'f' float, 'c' complex, 'b' bool, 'U' unicode (UCS-4), 'S' bytes,
    /// 'V' void, 'O' object, 'M'/'m' datetime/timedelta.
    /// </summary>
    public char Kind => Code.Length > 0 ? Code[0] : '?';

    /// <summary>The element size in bytes: the state's elsize when given, else from the code (4 bytes a character for 'U').</summary>
    public int ItemSize
    {
        get
        {
            if (_stateItemSize > 0)
            {
                return _stateItemSize;
            }
            int digits = Code.Length >= 2 && int.TryParse(Code.AsSpan(1), out int size) && size >= 0 ? size : 0;
            return Kind == 'U' ? checked(digits * 4) : digits;
        }
    }

    /// <summary>True for the dtypes whose elements are Python objects (pickled one by one, not as bytes).</summary>
    public bool IsObject => Kind == 'O';

    public void SetState(object? state)
    {
        if (state is not object?[] { Length: >= 2 } tuple || tuple[1] is not string order || order.Length != 1)
        {
            throw new FormatException("numpy.dtype state must be a tuple (version, byteorder, ...)");
        }
        ByteOrder = order[0] == '=' ? '<' : order[0];
        if (tuple.Length >= 6 && tuple[5] is long elementSize and > 0 and <= int.MaxValue)
        {
            _stateItemSize = (int)elementSize;
        }
    }

    public override string ToString() => IsObject ? "object" : $"{ByteOrder}{Code}";
}

/// <summary>
/// A numpy array as plain data: shape, dtype and the raw element bytes (C order unless FortranOrder). An object array
/// (dtype object) is kept with its shape and no data: its elements are Python objects, which this reader does not hold.
/// </summary>
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
        Shape = dimensions;
        DType = dtype;
        FortranOrder = fortran;
        if (dtype.IsObject)
        {
            // The elements follow as a list of objects; only the shape is kept.
            _ = ElementCount;
            Data = [];
            return;
        }
        byte[] data = PickleBytes.FromStringOrBytes(tuple[first + 3], "numpy array data");
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

    /// <summary>The elements of a uint8 array (CIFAR-10 pixels), in storage order.</summary>
    public byte[] AsBytes() =>
        DType.Kind is 'u' or 'b' && DType.ItemSize == 1 ? Data : throw new InvalidOperationException($"dtype {DType} is not uint8");

    /// <summary>The elements of an integer (or bool) array as int64, in C order.</summary>
    public long[] ToInt64()
    {
        var values = new long[ElementCount];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = Element(i) switch
            {
                long value => value,
                bool flag => flag ? 1 : 0,
                ulong value when value <= long.MaxValue => (long)value,
                var other => throw new InvalidOperationException($"dtype {DType} element {other} is not an int64"),
            };
        }
        return values;
    }

    /// <summary>
    /// Element <paramref name="index"/> in C (row-major) order, as numpy's tolist() gives it: long (signed ints), ulong
    /// (unsigned 64-bit), double (floats of 2, 4 or 8 bytes), <see cref="Complex"/>, bool, string ('U', trailing NULs
    /// removed), byte[] ('S', trailing NULs removed). Other dtypes (object, void, datetime) throw.
    /// </summary>
    public object Element(long index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, ElementCount);
        if (DType.IsObject)
        {
            throw new InvalidOperationException("elements of dtype object are not read");
        }
        int size = DType.ItemSize;
        ReadOnlySpan<byte> bytes = Data.AsSpan(checked((int)(StorageIndex(index) * size)), size);
        bool big = DType.ByteOrder == '>';
        return (DType.Kind, size) switch
        {
            ('b', 1) => bytes[0] != 0,
            ('u', 1) => (long)bytes[0],
            ('i', 1) => (long)(sbyte)bytes[0],
            ('u', 2) => (long)(big ? BinaryPrimitives.ReadUInt16BigEndian(bytes) : BinaryPrimitives.ReadUInt16LittleEndian(bytes)),
            ('i', 2) => (long)(big ? BinaryPrimitives.ReadInt16BigEndian(bytes) : BinaryPrimitives.ReadInt16LittleEndian(bytes)),
            ('u', 4) => (long)(big ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt32LittleEndian(bytes)),
            ('i', 4) => (long)(big ? BinaryPrimitives.ReadInt32BigEndian(bytes) : BinaryPrimitives.ReadInt32LittleEndian(bytes)),
            ('i', 8) => big ? BinaryPrimitives.ReadInt64BigEndian(bytes) : BinaryPrimitives.ReadInt64LittleEndian(bytes),
            ('u', 8) => big ? BinaryPrimitives.ReadUInt64BigEndian(bytes) : BinaryPrimitives.ReadUInt64LittleEndian(bytes),
            ('f', 2) => (double)(big ? BinaryPrimitives.ReadHalfBigEndian(bytes) : BinaryPrimitives.ReadHalfLittleEndian(bytes)),
            ('f', 4) => (double)(big ? BinaryPrimitives.ReadSingleBigEndian(bytes) : BinaryPrimitives.ReadSingleLittleEndian(bytes)),
            ('f', 8) => big ? BinaryPrimitives.ReadDoubleBigEndian(bytes) : BinaryPrimitives.ReadDoubleLittleEndian(bytes),
            ('c', 8) => new Complex(ReadFloat(bytes[..4], big), ReadFloat(bytes[4..], big)),
            ('c', 16) => new Complex(ReadDouble(bytes[..8], big), ReadDouble(bytes[8..], big)),
            ('U', _) => UnicodeElement(bytes, big),
            ('S', _) => bytes.TrimEnd((byte)0).ToArray(),
            _ => throw new InvalidOperationException($"elements of dtype {DType} are not read"),
        };
    }

    /// <summary>The elements of a 'U' array as strings, or of an 'S' array decoded as latin-1, in C order.</summary>
    public string[] ToStrings()
    {
        if (DType.Kind is not ('U' or 'S'))
        {
            throw new InvalidOperationException($"dtype {DType} is not a string dtype");
        }
        var values = new string[ElementCount];
        for (int i = 0; i < values.Length; i++)
        {
            object element = Element(i);
            values[i] = element as string ?? Encoding.Latin1.GetString((byte[])element);
        }
        return values;
    }

    private static double ReadFloat(ReadOnlySpan<byte> bytes, bool big) =>
        big ? BinaryPrimitives.ReadSingleBigEndian(bytes) : BinaryPrimitives.ReadSingleLittleEndian(bytes);

    private static double ReadDouble(ReadOnlySpan<byte> bytes, bool big) =>
        big ? BinaryPrimitives.ReadDoubleBigEndian(bytes) : BinaryPrimitives.ReadDoubleLittleEndian(bytes);

    /// <summary>A UCS-4 element: numpy pads with NUL code points, which are not part of the text.</summary>
    private static string UnicodeElement(ReadOnlySpan<byte> bytes, bool big)
    {
        var text = new StringBuilder(bytes.Length / 4);
        for (int at = 0; at + 4 <= bytes.Length; at += 4)
        {
            uint codePoint = big ? BinaryPrimitives.ReadUInt32BigEndian(bytes[at..]) : BinaryPrimitives.ReadUInt32LittleEndian(bytes[at..]);
            if (codePoint == 0)
            {
                break;
            }
            if (codePoint > 0x10FFFF || codePoint is >= 0xD800 and <= 0xDFFF)
            {
                throw new FormatException($"numpy unicode element holds code point 0x{codePoint:X}, which is not a character");
            }
            text.Append(char.ConvertFromUtf32((int)codePoint));
        }
        return text.ToString();
    }

    /// <summary>Where element <paramref name="index"/> (C order) is stored: itself, or its Fortran-order position.</summary>
    private long StorageIndex(long index)
    {
        if (!FortranOrder || Shape.Length < 2)
        {
            return index;
        }
        long storage = 0, stride = 1, rest = index;
        var multi = new long[Shape.Length];
        for (int d = Shape.Length - 1; d >= 0; d--)
        {
            multi[d] = rest % Shape[d];
            rest /= Shape[d];
        }
        for (int d = 0; d < Shape.Length; d++)
        {
            storage += multi[d] * stride;
            stride *= Shape[d];
        }
        return storage;
    }
}
