namespace IlgpuUnlearn.Weights.Pickle;

/// <summary>
/// The allow-list of module-level names a pickle may refer to. A name is either a plain value (a type such as
/// torch.FloatStorage that other calls take as an argument) or a callable with a handler written here that
/// builds plain data from its arguments. Any other name stops the reader with an error naming it; nothing
/// is ever looked up, imported, executed or instantiated by name.
/// </summary>
public sealed class PickleGlobals
{
    private readonly Dictionary<string, Func<object?[], object?>?> _byFullName = new(StringComparer.Ordinal);

    /// <summary>Allows a name as a value only; calling it is refused.</summary>
    public PickleGlobals AllowValue(string module, string name)
    {
        _byFullName[$"{module}.{name}"] = null;
        return this;
    }

    /// <summary>
    /// Allows calling a name (REDUCE): <paramref name="call"/> gets the argument tuple and returns the result.
    /// It throws <see cref="FormatException"/> when the arguments have the wrong form.
    /// </summary>
    public PickleGlobals AllowCall(string module, string name, Func<object?[], object?> call)
    {
        ArgumentNullException.ThrowIfNull(call);
        _byFullName[$"{module}.{name}"] = call;
        return this;
    }

    public bool IsAllowed(string module, string name) => _byFullName.ContainsKey($"{module}.{name}");

    /// <summary>
    /// True when a global that is not allowed does not stop the reader but becomes an <see cref="OpaqueObject"/> (as does
    /// every object built from it), so that its user can tell where it sits; false (the default) refuses it at once.
    /// </summary>
    public bool KeepsRefusedAsPlaceholders { get; private set; }

    /// <summary>Makes globals that are not allowed into <see cref="OpaqueObject"/>s instead of errors (see <see cref="KeepsRefusedAsPlaceholders"/>).</summary>
    public PickleGlobals KeepRefusedAsPlaceholders()
    {
        KeepsRefusedAsPlaceholders = true;
        return this;
    }

    internal bool TryGetCall(PickleGlobal global, out Func<object?[], object?>? call) =>
        _byFullName.TryGetValue(global.FullName, out call);

    /// <summary>
    /// Plain data: collections.OrderedDict and Counter, set, frozenset, bytes, bytearray and complex (under Python 3's builtins and
    /// Python 2's __builtin__, as protocol 0-2 pickles name them), _codecs.encode (how Python 3 writes bytes at protocols
    /// 0-2), and numpy arrays, scalars and dtypes as <see cref="NumpyArray"/> (shape, dtype, raw bytes) under numpy 1.x's
    /// and 2.x's module names, for every pickle protocol (_reconstruct for 0-4, _frombuffer for 5).
    /// </summary>
    public static PickleGlobals PlainData() => new PickleGlobals().AddPlainData();

    /// <summary>Adds the names of <see cref="PlainData"/> to this list.</summary>
    public PickleGlobals AddPlainData()
    {
        AllowCall("collections", "OrderedDict", PlainDataCalls.OrderedDict);
        AllowCall("collections", "Counter", PlainDataCalls.Counter);
        AllowCall("_codecs", "encode", PlainDataCalls.CodecsEncode);
        foreach (string builtins in new[] { "builtins", "__builtin__" })
        {
            AllowCall(builtins, "set", args => PlainDataCalls.Set(args, frozen: false));
            AllowCall(builtins, "frozenset", args => PlainDataCalls.Set(args, frozen: true));
            AllowCall(builtins, "bytearray", PlainDataCalls.ByteArray);
            AllowCall(builtins, "bytes", PlainDataCalls.ByteArray);
            AllowCall(builtins, "complex", PlainDataCalls.Complex);
        }
        foreach (string numpy in new[] { "numpy.core", "numpy._core" })
        {
            AllowCall($"{numpy}.multiarray", "_reconstruct", PlainDataCalls.NumpyReconstruct);
            AllowCall($"{numpy}.multiarray", "scalar", PlainDataCalls.NumpyScalar);
            AllowCall($"{numpy}.numeric", "_frombuffer", PlainDataCalls.NumpyFromBuffer);
        }
        AllowValue("numpy", "ndarray");
        AllowCall("numpy", "dtype", PlainDataCalls.NumpyDTypeCall);
        return this;
    }
}
