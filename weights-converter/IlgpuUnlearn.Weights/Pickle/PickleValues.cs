namespace IlgpuUnlearn.Weights.Pickle;

// What the pickle reader builds, as plain data:
//   None -> null, bool -> bool, int -> long (System.Numerics.BigInteger beyond 64 bits), float -> double,
//   str -> string (Python 2 str is decoded as latin-1, like pickle.load(encoding='latin1')), bytes -> byte[],
//   bytearray -> byte[], tuple -> object?[], list -> List<object?>, dict -> PickleDict, set and frozenset -> PickleSet,
//   complex -> System.Numerics.Complex, an allowed global -> PickleGlobal, and whatever an allowed global's call
//   returns (PickleDict, NumpyArray, NumpyDType, torch tensor views, ...). Where the allow-list asks for it
//   (PickleGlobals.KeepsRefusedAsPlaceholders), a global that is not allowed, and every object built from it,
//   becomes an OpaqueObject that records the name and nothing else: nothing is ever looked up or run.

/// <summary>A module-level name from the pickle's allow-list, e.g. torch.FloatStorage or numpy.ndarray.</summary>
public sealed record PickleGlobal(string Module, string Name)
{
    public string FullName => $"{Module}.{Name}";

    public override string ToString() => FullName;
}

/// <summary>An object that a pickle's BUILD opcode may give state to (Python's __setstate__).</summary>
public interface IPickleBuildable
{
    /// <summary>Takes the state; throws <see cref="FormatException"/> when the state has the wrong form.</summary>
    void SetState(object? state);
}

/// <summary>A Python set or frozenset: its items in pickle order (duplicates are not removed).</summary>
public sealed class PickleSet(bool frozen)
{
    public bool Frozen { get; } = frozen;

    public List<object?> Items { get; } = [];
}

/// <summary>
/// What a pickle builds from a global that is not allowed (or one this reader does not read): the global's name and,
/// once BUILD gives it, the state it was given. Nothing of it is run; the reader's user decides whether it matters
/// where it sits (a whole model where a state dict was expected, an argparse.Namespace beside the model, ...).
/// </summary>
public sealed class OpaqueObject(PickleGlobal global, string why, string? what = null) : IPickleBuildable
{
    /// <summary>The global it was built from, e.g. argparse.Namespace.</summary>
    public PickleGlobal Global { get; } = global;

    /// <summary>Why it was not read, e.g. "is not on the allow-list".</summary>
    public string Why { get; } = why;

    /// <summary>What it is, e.g. "'argparse.Namespace' object" or "tensor of torch.ComplexFloatStorage".</summary>
    public string What { get; } = what ?? $"'{global.FullName}' object";

    /// <summary>The state a BUILD opcode gave it (for a pickled object, its attribute dict); null if none.</summary>
    public object? State { get; private set; }

    /// <summary>True when the object looks like a torch.nn.Module (its state holds _modules or _parameters).</summary>
    public bool IsTorchModule => State is PickleDict state && (state.TryGetText("_modules", out _) || state.TryGetText("_parameters", out _));

    void IPickleBuildable.SetState(object? state) => State = state;

    public override string ToString() => What;
}
