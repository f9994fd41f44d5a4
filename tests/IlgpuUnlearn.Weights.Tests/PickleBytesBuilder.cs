using System.Buffers.Binary;
using System.Text;

namespace IlgpuUnlearn.Weights.Tests;

/// <summary>Builds pickle byte streams opcode by opcode, for inputs no Python 3 pickler writes (Python 2 str, hostile pickles).</summary>
internal sealed class PickleBytesBuilder
{
    private readonly List<byte> _bytes = [];

    public PickleBytesBuilder Op(char opcode) => Op((byte)opcode);

    public PickleBytesBuilder Op(byte opcode)
    {
        _bytes.Add(opcode);
        return this;
    }

    public PickleBytesBuilder Raw(params byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    public PickleBytesBuilder Proto(byte version) => Op(0x80).Raw(version);

    public PickleBytesBuilder Global(string module, string name) => Op('c').Raw(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));

    /// <summary>Python 2 str: SHORT_BINSTRING or BINSTRING.</summary>
    public PickleBytesBuilder Py2String(byte[] latin1)
    {
        if (latin1.Length < 256)
        {
            return Op('U').Raw((byte)latin1.Length).Raw(latin1);
        }
        var length = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(length, latin1.Length);
        return Op('T').Raw(length).Raw(latin1);
    }

    public PickleBytesBuilder Py2String(string text) => Py2String(Encoding.Latin1.GetBytes(text));

    public PickleBytesBuilder Unicode(string text)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        var length = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(length, utf8.Length);
        return Op('X').Raw(length).Raw(utf8);
    }

    public PickleBytesBuilder Int(int value)
    {
        if (value is >= 0 and < 256)
        {
            return Op('K').Raw((byte)value);
        }
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        return Op('J').Raw(bytes);
    }

    public byte[] ToArray() => [.. _bytes];

    /// <summary>
    /// A CIFAR-10 python batch as Python 2's cPickle wrote it (protocol 2): a dict of str keys holding
    /// 'batch_label' (str), 'labels' (list of int), 'data' (numpy uint8 array, rows x 3072) and 'filenames'.
    /// </summary>
    public static byte[] Python2CifarBatch(int rows, byte[] pixels, int[] labels)
    {
        var p = new PickleBytesBuilder().Proto(2).Op('}').Op('q').Raw(0).Op('(');
        p.Py2String("data");
        p.Global("numpy.core.multiarray", "_reconstruct").Op('q').Raw(1);
        p.Global("numpy", "ndarray").Op('q').Raw(2);
        p.Int(0).Op(0x85).Py2String("b").Op(0x87).Op('R'); // _reconstruct(ndarray, (0,), 'b')
        p.Op('(').Int(1).Int(rows).Int(3072).Op(0x86); // state: (1, (rows, 3072), dtype, False, data)
        p.Global("numpy", "dtype").Py2String("u1").Int(0).Int(1).Op(0x87).Op('R'); // dtype('u1', 0, 1)
        p.Op('(').Int(3).Py2String("|").Op('N').Op('N').Op('N').Int(-1).Int(-1).Int(0).Op('t').Op('b'); // dtype state
        p.Op(0x89).Py2String(pixels).Op('t').Op('b');
        p.Py2String("labels").Op(']').Op('q').Raw(3).Op('(');
        foreach (int label in labels)
        {
            p.Int(label);
        }
        p.Op('e');
        p.Py2String("batch_label").Py2String("training batch 1 of 5");
        p.Py2String("filenames").Op(']').Op('(').Py2String("a_000.png").Op('e');
        return p.Op('u').Op('.').ToArray();
    }
}
