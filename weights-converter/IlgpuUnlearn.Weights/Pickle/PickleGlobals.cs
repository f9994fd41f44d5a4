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

    internal bool TryGetCall(PickleGlobal global, out Func<object?[], object?>? call) =>
        _byFullName.TryGetValue(global.FullName, out call);

    /// <summary>
    /// Plain data: collections.OrderedDict, _codecs.encode (how Python 3 writes bytes at protocol 2) and
    /// numpy arrays and dtypes as <see cref="NumpyArray"/> (shape, dtype, raw bytes).
    /// </summary>
    public static PickleGlobals PlainData() => new PickleGlobals().AddPlainData();

    /// <summary>Adds the names of <see cref="PlainData"/> to this list.</summary>
    public PickleGlobals AddPlainData()
    {
        AllowCall("collections", "OrderedDict", PlainDataCalls.OrderedDict);
        AllowCall("_codecs", "encode", PlainDataCalls.CodecsEncode);
        foreach (string module in new[] { "numpy.core.multiarray", "numpy._core.multiarray" })
        {
            AllowCall(module, "_reconstruct", PlainDataCalls.NumpyReconstruct);
            AllowCall(module, "scalar", PlainDataCalls.NumpyScalar);
        }
        AllowValue("numpy", "ndarray");
        AllowCall("numpy", "dtype", PlainDataCalls.NumpyDTypeCall);
        return this;
    }
}
