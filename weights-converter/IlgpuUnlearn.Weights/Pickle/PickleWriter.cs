using System.Buffers.Binary;
using System.Text;

namespace IlgpuUnlearn.Weights.Pickle;

/// <summary>
/// Writes protocol-2 pickle opcodes, only those torch.load(weights_only=True) accepts
/// (PROTO, GLOBAL, MARK, TUPLE*, EMPTY_TUPLE, BININT*, LONG1, BINUNICODE, NEWFALSE, BINPERSID, REDUCE, SETITEMS, STOP).
/// </summary>
public sealed class PickleWriter
{
    private readonly MemoryStream _buffer = new();

    public PickleWriter Protocol2()
    {
        _buffer.WriteByte(0x80);
        _buffer.WriteByte(2);
        return this;
    }

    public PickleWriter Global(string module, string name)
    {
        if (module.Contains('\n') || name.Contains('\n'))
        {
            throw new ArgumentException("a global's module and name cannot hold a newline");
        }
        _buffer.WriteByte((byte)'c');
        WriteAscii($"{module}\n{name}\n");
        return this;
    }

    public PickleWriter Mark() => Opcode('(');

    /// <summary>Builds a tuple of everything since the last mark.</summary>
    public PickleWriter TupleFromMark() => Opcode('t');

    public PickleWriter EmptyTuple() => Opcode(')');

    public PickleWriter Reduce() => Opcode('R');

    public PickleWriter SetItemsFromMark() => Opcode('u');

    public PickleWriter BinaryPersistentId() => Opcode('Q');

    public PickleWriter False() => Opcode(0x89);

    public PickleWriter Stop() => Opcode('.');

    public PickleWriter Int(long value)
    {
        if (value is >= 0 and <= byte.MaxValue)
        {
            _buffer.WriteByte((byte)'K');
            _buffer.WriteByte((byte)value);
        }
        else if (value is >= 0 and <= ushort.MaxValue)
        {
            _buffer.WriteByte((byte)'M');
            Span<byte> bytes = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(bytes, (ushort)value);
            _buffer.Write(bytes);
        }
        else if (value is >= int.MinValue and <= int.MaxValue)
        {
            _buffer.WriteByte((byte)'J');
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(bytes, (int)value);
            _buffer.Write(bytes);
        }
        else
        {
            _buffer.WriteByte(0x8a); // LONG1, 8 bytes two's complement
            _buffer.WriteByte(8);
            Span<byte> bytes = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
            _buffer.Write(bytes);
        }
        return this;
    }

    public PickleWriter String(string value)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(value);
        _buffer.WriteByte((byte)'X');
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)utf8.Length);
        _buffer.Write(length);
        _buffer.Write(utf8);
        return this;
    }

    /// <summary>A tuple of ints (sizes and strides), written with a mark.</summary>
    public PickleWriter IntTuple(IEnumerable<long> values)
    {
        Mark();
        foreach (long value in values)
        {
            Int(value);
        }
        return TupleFromMark();
    }

    public byte[] ToArray() => _buffer.ToArray();

    private PickleWriter Opcode(char opcode) => Opcode((byte)opcode);

    private PickleWriter Opcode(byte opcode)
    {
        _buffer.WriteByte(opcode);
        return this;
    }

    private void WriteAscii(string text) => _buffer.Write(Encoding.ASCII.GetBytes(text));
}
