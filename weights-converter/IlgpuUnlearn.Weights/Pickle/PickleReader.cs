using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace IlgpuUnlearn.Weights.Pickle;

/// <summary>
/// Reads a Python pickle of any protocol (0-5) into plain .NET values; see PickleValues.cs for the mapping. Globals must be
/// on the <see cref="PickleGlobals"/> allow-list (or become <see cref="OpaqueObject"/>s where the list keeps refused names
/// as placeholders); nothing is ever imported or run. Protocol 5's in-band buffers (BYTEARRAY8) are read as bytes;
/// out-of-band buffers (NEXT_BUFFER, READONLY_BUFFER) and the extension registry (EXT1/2/4) are refused. Every length is
/// checked against the bytes that remain before anything is allocated. All problems are reported as
/// <see cref="WeightsFormatException"/> naming the source and the byte offset.
/// </summary>
public sealed class PickleReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly PickleGlobals _globals;
    private readonly string _sourceName;
    private readonly Func<object?, object?>? _persistentLoad;

    /// <param name="globals">The names the pickle may use.</param>
    /// <param name="sourceName">The file name used in error messages.</param>
    /// <param name="persistentLoad">Resolves persistent ids (torch storages); null refuses them.
    /// It throws <see cref="FormatException"/> for an id it does not accept.</param>
    public PickleReader(PickleGlobals globals, string sourceName, Func<object?, object?>? persistentLoad = null)
    {
        _globals = globals ?? throw new ArgumentNullException(nameof(globals));
        _sourceName = sourceName ?? throw new ArgumentNullException(nameof(sourceName));
        _persistentLoad = persistentLoad;
    }

    /// <summary>Reads a whole file holding one pickle, with the plain-data allow-list unless one is given.</summary>
    public static object? LoadFile(string path, PickleGlobals? globals = null)
    {
        byte[] bytes = FileBytes.ReadAll(path);
        return new PickleReader(globals ?? PickleGlobals.PlainData(), path).Load(bytes);
    }

    /// <summary>Reads the pickle that starts at the beginning of <paramref name="data"/>.</summary>
    public object? Load(byte[] data) => Load(data, 0, data.Length, out _);

    /// <summary>Reads the pickle at data[start..start+length); <paramref name="consumed"/> is its length up to STOP.</summary>
    public object? Load(byte[] data, int start, int length, out int consumed)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, data.Length - start);
        var machine = new Machine(this, data, start, start + length);
        try
        {
            object? result = machine.Run();
            consumed = machine.Position - start;
            return result;
        }
        catch (FormatException e)
        {
            throw new WeightsFormatException(_sourceName, $"pickle at byte {machine.OpcodeStart}: {e.Message}", e);
        }
        catch (OverflowException e)
        {
            throw new WeightsFormatException(_sourceName, $"pickle at byte {machine.OpcodeStart}: a number is out of range", e);
        }
        catch (DecoderFallbackException e)
        {
            throw new WeightsFormatException(_sourceName, $"pickle at byte {machine.OpcodeStart}: a string is not valid UTF-8", e);
        }
    }

    /// <summary>The state of one run over one pickle.</summary>
    private sealed class Machine(PickleReader owner, byte[] data, int start, int end)
    {
        private readonly List<object?> _stack = [];
        private readonly List<int> _marks = [];
        private readonly Dictionary<long, object?> _memo = [];

        public int Position { get; private set; } = start;

        public int OpcodeStart { get; private set; } = start;

        public object? Run()
        {
            while (true)
            {
                OpcodeStart = Position;
                byte opcode = ReadByte();
                if (opcode == (byte)'.')
                {
                    if (_stack.Count != 1)
                    {
                        throw new FormatException($"STOP with {_stack.Count} values on the stack instead of 1");
                    }
                    return _stack[0];
                }
                Execute(opcode);
            }
        }

        private void Execute(byte opcode)
        {
            switch (opcode)
            {
                // Framing and protocol.
                case 0x80: ReadByte(); break; // PROTO n
                case 0x95: ReadLength(8); break; // FRAME n: the frame's opcodes follow inline
                // Stack.
                case (byte)'(': _marks.Add(_stack.Count); break; // MARK
                case (byte)'0': Pop(); break; // POP
                case (byte)'1': PopMark(); break; // POP_MARK
                case (byte)'2': Push(Peek()); break; // DUP
                // Constants and numbers.
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'I': Push(ParseIntLine(ReadLine())); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break;
                case (byte)'K': Push((long)ReadByte()); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break;
                case (byte)'L': Push(Normalize(BigInteger.Parse(ReadLine().TrimEnd('L'), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture))); break;
                case 0x8a: Push(ReadLittleEndianInteger(ReadByte())); break; // LONG1
                case 0x8b: Push(ReadLittleEndianInteger(ReadLength(4))); break; // LONG4
                case (byte)'F': Push(double.Parse(ReadLine(), NumberStyles.Float, CultureInfo.InvariantCulture)); break;
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break; // BINFLOAT
                // Strings and bytes.
                case (byte)'X': Push(StrictUtf8.GetString(ReadBytes(ReadLength(4)))); break; // BINUNICODE
                case 0x8c: Push(StrictUtf8.GetString(ReadBytes(ReadByte()))); break; // SHORT_BINUNICODE
                case 0x8d: Push(StrictUtf8.GetString(ReadBytes(ReadLength(8)))); break; // BINUNICODE8
                case (byte)'T': Push(Encoding.Latin1.GetString(ReadBytes(ReadLength(4)))); break; // BINSTRING (Python 2 str)
                case (byte)'U': Push(Encoding.Latin1.GetString(ReadBytes(ReadByte()))); break; // SHORT_BINSTRING
                case (byte)'S': Push(PickleTextLines.ParseQuotedString(ReadLine())); break; // STRING (protocol 0, Python 2 str)
                case (byte)'V': Push(PickleTextLines.ParseRawUnicodeEscape(ReadRawLine())); break; // UNICODE (protocol 0)
                case (byte)'B': Push(ReadBytes(ReadLength(4)).ToArray()); break; // BINBYTES
                case (byte)'C': Push(ReadBytes(ReadByte()).ToArray()); break; // SHORT_BINBYTES
                case 0x8e: Push(ReadBytes(ReadLength(8)).ToArray()); break; // BINBYTES8
                case 0x96: Push(ReadBytes(ReadLength(8)).ToArray()); break; // BYTEARRAY8: an in-band bytearray (protocol 5)
                // Containers.
                case (byte)')': Push(Array.Empty<object?>()); break; // EMPTY_TUPLE
                case (byte)'t': Push(PopMark().ToArray()); break; // TUPLE
                case 0x85: Push(PopItems(1)); break; // TUPLE1
                case 0x86: Push(PopItems(2)); break; // TUPLE2
                case 0x87: Push(PopItems(3)); break; // TUPLE3
                case (byte)']': Push(new List<object?>()); break; // EMPTY_LIST
                case (byte)'l': Push(PopMark()); break; // LIST
                case (byte)'a': Append(); break; // APPEND
                case (byte)'e': Appends(); break; // APPENDS
                case (byte)'}': Push(new PickleDict()); break; // EMPTY_DICT
                case (byte)'d': Push(DictFrom(PopMark())); break; // DICT
                case (byte)'s': SetItem(); break; // SETITEM
                case (byte)'u': SetItems(); break; // SETITEMS
                case 0x8f: Push(new PickleSet(frozen: false)); break; // EMPTY_SET
                case 0x90: AddItems(); break; // ADDITEMS
                case 0x91: Push(FrozenSet(PopMark())); break; // FROZENSET
                // Memo.
                case (byte)'g': Push(MemoGet(ParseMemoIndex(ReadLine()))); break; // GET
                case (byte)'h': Push(MemoGet(ReadByte())); break; // BINGET
                case (byte)'j': Push(MemoGet(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))); break; // LONG_BINGET
                case (byte)'p': _memo[ParseMemoIndex(ReadLine())] = Peek(); break; // PUT
                case (byte)'q': _memo[ReadByte()] = Peek(); break; // BINPUT
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))] = Peek(); break; // LONG_BINPUT
                case 0x94: _memo[_memo.Count] = Peek(); break; // MEMOIZE
                // Globals, calls and persistent ids.
                case (byte)'c': Push(Global(ReadLine(), ReadLine())); break; // GLOBAL
                case 0x93: StackGlobal(); break; // STACK_GLOBAL
                case (byte)'R': Reduce(); break; // REDUCE
                case (byte)'b': Build(); break; // BUILD
                case 0x81: NewObject(Pop()); break; // NEWOBJ: cls, args
                case 0x92: Pop(); NewObject(Pop()); break; // NEWOBJ_EX: cls, args, kwargs (the keyword arguments are not used)
                case (byte)'i': Instance(Global(ReadLine(), ReadLine()), PopMark()); break; // INST (protocol 0)
                case (byte)'o': ObjectFromMark(); break; // OBJ (protocol 1)
                case (byte)'Q': Push(PersistentLoad(Pop())); break; // BINPERSID
                case (byte)'P': Push(PersistentLoad(ReadLine())); break; // PERSID
                default: throw new FormatException(Refusal(opcode));
            }
        }

        private static string Refusal(byte opcode) => opcode switch
        {
            0x82 or 0x83 or 0x84 => "extension registry opcodes (EXT1/2/4) are not allowed",
            0x97 or 0x98 => "out-of-band buffers (protocol 5 NEXT_BUFFER, READONLY_BUFFER) are not supported: pickle in-band",
            _ => $"unknown opcode 0x{opcode:x2}",
        };

        // ----- Reading the input -----

        private byte ReadByte()
        {
            if (Position >= end)
            {
                throw new FormatException("the pickle ends before its STOP opcode (truncated)");
            }
            return data[Position++];
        }

        private ReadOnlySpan<byte> ReadBytes(long count)
        {
            if (count < 0 || count > end - Position)
            {
                throw new FormatException($"a length of {count} bytes runs past the end of the data ({end - Position} left)");
            }
            var span = new ReadOnlySpan<byte>(data, Position, (int)count);
            Position += (int)count;
            return span;
        }

        /// <summary>An unsigned length field of 4 or 8 bytes, checked against the bytes that remain.</summary>
        private long ReadLength(int width)
        {
            ulong length = width == 4
                ? BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))
                : BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8));
            if (length > (ulong)(end - Position))
            {
                throw new FormatException($"a length field of {length} bytes is larger than the {end - Position} bytes left");
            }
            return (long)length;
        }

        private string ReadLine() => Encoding.ASCII.GetString(ReadRawLine());

        /// <summary>A text argument's bytes up to the end of the line (not decoded).</summary>
        private ReadOnlySpan<byte> ReadRawLine()
        {
            int newline = Array.IndexOf(data, (byte)'\n', Position, end - Position);
            if (newline < 0)
            {
                throw new FormatException("a text argument has no end of line (truncated)");
            }
            var line = new ReadOnlySpan<byte>(data, Position, newline - Position);
            Position = newline + 1;
            return line;
        }

        private object ReadLittleEndianInteger(long byteCount)
        {
            ReadOnlySpan<byte> bytes = ReadBytes(byteCount);
            return Normalize(new BigInteger(bytes, isUnsigned: false, isBigEndian: false));
        }

        private static object Normalize(BigInteger value) =>
            value >= long.MinValue && value <= long.MaxValue ? (object)(long)value : value;

        private static object ParseIntLine(string line) => line switch
        {
            "01" => true,
            "00" => false,
            _ => Normalize(BigInteger.Parse(line, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)),
        };

        private static long ParseMemoIndex(string line) =>
            long.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out long index)
                ? index
                : throw new FormatException($"bad memo index '{line}'");

        // ----- The stack -----

        private void Push(object? value) => _stack.Add(value);

        private object? Pop()
        {
            if (_stack.Count == 0 || (_marks.Count > 0 && _stack.Count <= _marks[^1]))
            {
                throw new FormatException("the stack is empty (pop past a mark or the bottom)");
            }
            object? value = _stack[^1];
            _stack.RemoveAt(_stack.Count - 1);
            return value;
        }

        private object? Peek()
        {
            if (_stack.Count == 0 || (_marks.Count > 0 && _stack.Count <= _marks[^1]))
            {
                throw new FormatException("the stack is empty");
            }
            return _stack[^1];
        }

        private List<object?> PopMark()
        {
            if (_marks.Count == 0)
            {
                throw new FormatException("no mark on the stack");
            }
            int mark = _marks[^1];
            _marks.RemoveAt(_marks.Count - 1);
            List<object?> items = _stack.GetRange(mark, _stack.Count - mark);
            _stack.RemoveRange(mark, _stack.Count - mark);
            return items;
        }

        private object?[] PopItems(int count)
        {
            var items = new object?[count];
            for (int i = count - 1; i >= 0; i--)
            {
                items[i] = Pop();
            }
            return items;
        }

        private object? MemoGet(long index) =>
            _memo.TryGetValue(index, out object? value) ? value : throw new FormatException($"memo entry {index} was never stored");

        // ----- Containers -----

        private void Append()
        {
            object? item = Pop();
            ListOnTop().Add(item);
        }

        private void Appends()
        {
            List<object?> items = PopMark();
            ListOnTop().AddRange(items);
        }

        /// <summary>The list to append to; items appended to an opaque object (a list subclass) go to a list that is dropped.</summary>
        private List<object?> ListOnTop() => Peek() switch
        {
            List<object?> list => list,
            OpaqueObject => [],
            var other => throw new FormatException($"APPEND to a {PickleText.TypeName(other)}, not a list"),
        };

        private static PickleDict DictFrom(List<object?> items)
        {
            if (items.Count % 2 != 0)
            {
                throw new FormatException("a dict needs an even number of items");
            }
            var dict = new PickleDict();
            for (int i = 0; i < items.Count; i += 2)
            {
                dict.Set(items[i], items[i + 1]);
            }
            return dict;
        }

        private void SetItem()
        {
            object? value = Pop();
            object? key = Pop();
            DictOnTop().Set(key, value);
        }

        private void SetItems()
        {
            List<object?> items = PopMark();
            if (items.Count % 2 != 0)
            {
                throw new FormatException("SETITEMS needs an even number of items");
            }
            PickleDict dict = DictOnTop();
            for (int i = 0; i < items.Count; i += 2)
            {
                dict.Set(items[i], items[i + 1]);
            }
        }

        /// <summary>The dict to set items in; items set on an opaque object (a dict subclass) go to a dict that is dropped.</summary>
        private PickleDict DictOnTop() => Peek() switch
        {
            PickleDict dict => dict,
            OpaqueObject => new PickleDict(),
            var other => throw new FormatException($"SETITEM on a {PickleText.TypeName(other)}, not a dict"),
        };

        private void AddItems()
        {
            List<object?> items = PopMark();
            if (Peek() is not PickleSet set)
            {
                throw new FormatException($"ADDITEMS to a {PickleText.TypeName(Peek())}, not a set");
            }
            set.Items.AddRange(items);
        }

        private static PickleSet FrozenSet(List<object?> items)
        {
            var set = new PickleSet(frozen: true);
            set.Items.AddRange(items);
            return set;
        }

        // ----- Globals, calls, persistent ids -----

        /// <summary>An allowed global, or (where the list keeps refused names) an <see cref="OpaqueObject"/> for one that is not.</summary>
        private object Global(string module, string name)
        {
            if (owner._globals.IsAllowed(module, name))
            {
                return new PickleGlobal(module, name);
            }
            if (owner._globals.KeepsRefusedAsPlaceholders)
            {
                return new OpaqueObject(new PickleGlobal(module, name), NotAllowed);
            }
            throw new FormatException($"global '{module}.{name}' {NotAllowed}; refusing to load it");
        }

        private const string NotAllowed = "is not on the allow-list";

        /// <summary>NEWOBJ and its kin: an allowed global's handler builds the object; an opaque one stays opaque.</summary>
        private void NewObject(object? arguments)
        {
            object? type = Pop();
            Push(Call(type, arguments as object?[] ?? throw new FormatException($"NEWOBJ arguments must be a tuple, not a {PickleText.TypeName(arguments)}"), "NEWOBJ"));
        }

        private void Instance(object type, List<object?> arguments) => Push(Call(type, arguments.ToArray(), "INST"));

        private void ObjectFromMark()
        {
            List<object?> items = PopMark();
            if (items.Count == 0)
            {
                throw new FormatException("OBJ needs a class after its mark");
            }
            Push(Call(items[0], items.Skip(1).ToArray(), "OBJ"));
        }

        private void StackGlobal()
        {
            object? name = Pop();
            object? module = Pop();
            if (module is not string moduleText || name is not string nameText)
            {
                throw new FormatException("STACK_GLOBAL needs two strings");
            }
            Push(Global(moduleText, nameText));
        }

        private void Reduce()
        {
            object? arguments = Pop();
            object? callable = Pop();
            if (arguments is not object?[] argumentTuple)
            {
                throw new FormatException($"REDUCE arguments of {PickleText.TypeName(callable)} must be a tuple");
            }
            Push(Call(callable, argumentTuple, "REDUCE"));
        }

        /// <summary>Calls an allowed global's handler; calling an opaque object gives another one (its result, unread).</summary>
        private object? Call(object? callable, object?[] arguments, string opcode)
        {
            if (callable is OpaqueObject opaque)
            {
                return new OpaqueObject(opaque.Global, opaque.Why, opaque.What);
            }
            if (callable is not PickleGlobal global)
            {
                throw new FormatException($"{opcode} calls a {PickleText.TypeName(callable)}, not an allowed global");
            }
            if (!owner._globals.TryGetCall(global, out Func<object?[], object?>? call) || call is null)
            {
                throw new FormatException($"calling '{global.FullName}' is not allowed");
            }
            return call(arguments);
        }

        private void Build()
        {
            object? state = Pop();
            object? target = Peek();
            if (target is not IPickleBuildable buildable)
            {
                throw new FormatException($"BUILD on a {PickleText.TypeName(target)} is not supported");
            }
            buildable.SetState(state);
        }

        private object? PersistentLoad(object? id)
        {
            if (owner._persistentLoad is null)
            {
                throw new FormatException("persistent ids are not allowed in this pickle");
            }
            return owner._persistentLoad(id);
        }
    }
}
