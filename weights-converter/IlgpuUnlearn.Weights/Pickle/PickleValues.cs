namespace IlgpuUnlearn.Weights.Pickle;

// What the pickle reader builds, as plain data:
//   None -> null, bool -> bool, int -> long (System.Numerics.BigInteger beyond 64 bits), float -> double,
//   str -> string (Python 2 str is decoded as latin-1, like pickle.load(encoding='latin1')), bytes -> byte[],
//   tuple -> object?[], list -> List<object?>, dict -> PickleDict, an allowed global -> PickleGlobal,
//   and whatever an allowed global's call returns (PickleDict, NumpyArray, NumpyDType, torch tensor views, ...).

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
