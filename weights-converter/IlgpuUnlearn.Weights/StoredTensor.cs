using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace IlgpuUnlearn.Weights;

/// <summary>
/// A tensor as stored in a weights file: its dtype, its shape and its elements in row-major
/// (contiguous) order as little-endian bytes. Strided views from a .pth file are gathered into this form.
/// </summary>
public sealed class StoredTensor
{
    public StoredTensor(TensorDType dtype, int[] shape, byte[] data)
        : this(dtype, shape, (ReadOnlyMemory<byte>)(data ?? throw new ArgumentNullException(nameof(data))))
    {
    }

    /// <summary>
    /// A tensor whose elements are <paramref name="data"/>, which may be a slice of a larger buffer (a whole
    /// file read once): it is not copied, so the caller must not change those bytes afterwards.
    /// </summary>
    public StoredTensor(TensorDType dtype, int[] shape, ReadOnlyMemory<byte> data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long count = ElementCountOf(shape);
        if (count * dtype.ElementSize() != data.Length)
        {
            throw new ArgumentException(
                $"{data.Length} bytes do not hold a {dtype.TorchName()} tensor of shape {ShapeText(shape)}", nameof(data));
        }
        DType = dtype;
        Shape = shape;
        Memory = data;
    }

    public TensorDType DType { get; }

    /// <summary>The dimensions; empty for a scalar (0-d) tensor such as num_batches_tracked.</summary>
    public int[] Shape { get; }

    /// <summary>The elements, row-major, little-endian, without a copy (possibly a slice of the file's buffer).</summary>
    public ReadOnlyMemory<byte> Memory { get; }

    /// <summary>The elements, row-major, little-endian, without a copy.</summary>
    public ReadOnlySpan<byte> Bytes => Memory.Span;

    /// <summary>
    /// The elements as an array of their own: the backing array itself when <see cref="Memory"/> spans a whole
    /// array, otherwise a copy made on first use (prefer <see cref="Bytes"/>, which never copies).
    /// </summary>
    public byte[] Data
    {
        get
        {
            if (_array is null)
            {
                _array = MemoryMarshal.TryGetArray(Memory, out ArraySegment<byte> segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
                    ? segment.Array
                    : Memory.ToArray();
            }
            return _array;
        }
    }

    private byte[]? _array;

    public long ElementCount => Memory.Length / DType.ElementSize();

    /// <summary>The number of elements of a shape; throws for negative dimensions.</summary>
    public static long ElementCountOf(IReadOnlyList<int> shape)
    {
        long count = 1;
        foreach (int dimension in shape)
        {
            if (dimension < 0)
            {
                throw new ArgumentException($"negative dimension in shape {ShapeText(shape)}", nameof(shape));
            }
            count = checked(count * dimension);
        }
        return count;
    }

    /// <summary>"[64, 3, 3, 3]", or "[]" for a scalar.</summary>
    public static string ShapeText(IReadOnlyList<int> shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>The elements converted to float32 (int64 counters become floats, exact below 2^24).</summary>
    public float[] ToFloat32()
    {
        // Not zeroed first: every branch below writes every element.
        float[] values = GC.AllocateUninitializedArray<float>(checked((int)ElementCount));
        ReadOnlySpan<byte> bytes = Bytes;
        switch (DType)
        {
            case TensorDType.Float32:
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(values);
                break;
            case TensorDType.Float16:
                ReadOnlySpan<Half> halves = MemoryMarshal.Cast<byte, Half>(bytes);
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = (float)halves[i];
                }
                break;
            case TensorDType.BFloat16:
                ReadOnlySpan<ushort> brains = MemoryMarshal.Cast<byte, ushort>(bytes);
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = BitConverter.Int32BitsToSingle(brains[i] << 16);
                }
                break;
            default:
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = (float)ElementAsDouble(i);
                }
                break;
        }
        return values;
    }

    /// <summary>The elements converted to int64 (floating-point values are truncated toward zero).</summary>
    public long[] ToInt64()
    {
        var values = new long[ElementCount];
        if (DType == TensorDType.Int64)
        {
            MemoryMarshal.Cast<byte, long>(Bytes).CopyTo(values);
            return values;
        }
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = DType.IsFloatingPoint() ? (long)ElementAsDouble(i) : ElementAsInt64(i);
        }
        return values;
    }

    /// <summary>The sum of all elements in double precision (a bool tensor counts its true elements).</summary>
    public double Sum()
    {
        if (DType == TensorDType.Float32)
        {
            double total = 0;
            foreach (float value in MemoryMarshal.Cast<byte, float>(Bytes))
            {
                total += value;
            }
            return total;
        }
        double sum = 0;
        for (long i = 0; i < ElementCount; i++)
        {
            sum += ElementAsDouble(i);
        }
        return sum;
    }

    /// <summary>One element as a double.</summary>
    public double ElementAsDouble(long index)
    {
        int size = DType.ElementSize();
        ReadOnlySpan<byte> bytes = Bytes.Slice(checked((int)(index * size)), size);
        return DType switch
        {
            TensorDType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(bytes),
            TensorDType.Float64 => BinaryPrimitives.ReadDoubleLittleEndian(bytes),
            TensorDType.Float16 => (double)BinaryPrimitives.ReadHalfLittleEndian(bytes),
            TensorDType.BFloat16 => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes) << 16),
            _ => ElementAsInt64(index),
        };
    }

    private long ElementAsInt64(long index)
    {
        int size = DType.ElementSize();
        ReadOnlySpan<byte> bytes = Bytes.Slice(checked((int)(index * size)), size);
        return DType switch
        {
            TensorDType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(bytes),
            TensorDType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(bytes),
            TensorDType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(bytes),
            TensorDType.Int8 => (sbyte)bytes[0],
            TensorDType.UInt8 => bytes[0],
            TensorDType.Bool => bytes[0] != 0 ? 1 : 0,
            _ => throw new InvalidOperationException($"{DType} is not an integer dtype"),
        };
    }

    /// <summary>A tensor of the given dtype holding float32 values (rounded to nearest for narrower types).</summary>
    public static StoredTensor FromFloat32(TensorDType dtype, int[] shape, ReadOnlySpan<float> values)
    {
        long count = ElementCountOf(shape);
        if (count != values.Length)
        {
            throw new ArgumentException($"{values.Length} values do not fill shape {ShapeText(shape)}", nameof(values));
        }
        var data = new byte[checked(count * dtype.ElementSize())];
        Span<byte> bytes = data;
        switch (dtype)
        {
            case TensorDType.Float32:
                MemoryMarshal.AsBytes(values).CopyTo(bytes);
                break;
            case TensorDType.Float64:
                for (int i = 0; i < values.Length; i++)
                {
                    BinaryPrimitives.WriteDoubleLittleEndian(bytes[(i * 8)..], values[i]);
                }
                break;
            case TensorDType.Float16:
                for (int i = 0; i < values.Length; i++)
                {
                    BinaryPrimitives.WriteHalfLittleEndian(bytes[(i * 2)..], (Half)values[i]);
                }
                break;
            case TensorDType.BFloat16:
                for (int i = 0; i < values.Length; i++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes[(i * 2)..], BFloat16.FromSingle(values[i]));
                }
                break;
            default:
                for (int i = 0; i < values.Length; i++)
                {
                    WriteInteger(dtype, bytes, i, (long)Math.Round(values[i], MidpointRounding.ToEven));
                }
                break;
        }
        return new StoredTensor(dtype, shape, data);
    }

    /// <summary>A tensor of an integer dtype (or bool) holding the given values.</summary>
    public static StoredTensor FromInt64(TensorDType dtype, int[] shape, ReadOnlySpan<long> values)
    {
        if (dtype.IsFloatingPoint())
        {
            throw new ArgumentException($"{dtype.TorchName()} is not an integer dtype", nameof(dtype));
        }
        long count = ElementCountOf(shape);
        if (count != values.Length)
        {
            throw new ArgumentException($"{values.Length} values do not fill shape {ShapeText(shape)}", nameof(values));
        }
        var data = new byte[checked(count * dtype.ElementSize())];
        for (int i = 0; i < values.Length; i++)
        {
            WriteInteger(dtype, data, i, values[i]);
        }
        return new StoredTensor(dtype, shape, data);
    }

    private static void WriteInteger(TensorDType dtype, Span<byte> bytes, int index, long value)
    {
        switch (dtype)
        {
            case TensorDType.Int64: BinaryPrimitives.WriteInt64LittleEndian(bytes[(index * 8)..], value); break;
            case TensorDType.Int32: BinaryPrimitives.WriteInt32LittleEndian(bytes[(index * 4)..], (int)value); break;
            case TensorDType.Int16: BinaryPrimitives.WriteInt16LittleEndian(bytes[(index * 2)..], (short)value); break;
            case TensorDType.Int8: bytes[index] = (byte)(sbyte)value; break;
            case TensorDType.UInt8: bytes[index] = (byte)value; break;
            case TensorDType.Bool: bytes[index] = value != 0 ? (byte)1 : (byte)0; break;
            default: throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null);
        }
    }
}
