using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Ilgpu;

/// <summary>
/// The worst disagreement of one output of one op between two implementations:
/// MaxAbs = max |test - reference|, Scale = max |reference|, MaxRel = MaxAbs / Scale (a normwise relative error).
/// See <see cref="Passed"/> for when it passes.
/// </summary>
public sealed record OpComparison(string Op, string Shape, double MaxAbs, double Scale, double Tolerance)
{
    public double MaxRel => Scale > 0 ? MaxAbs / Scale : MaxAbs;

    /// <summary>Relative to the largest reference value, absolute when that is below 1e-3 (so all-zero outputs compare absolutely).</summary>
    public bool Passed => !double.IsNaN(MaxAbs) && MaxAbs <= Tolerance * Math.Max(Scale, 1e-3);

    public override string ToString()
        => $"{(Passed ? "ok  " : "FAIL")} {Op,-28} {Shape,-44} max abs {MaxAbs:E2}  max |ref| {Scale:E2}  rel {MaxRel:E2}  (tol {Tolerance:E1})";
}

/// <summary>
/// Runs the same op on two <see cref="IOps"/> (the one under test and the reference) with identical inputs and compares
/// the outputs. Inputs are seeded random numbers; every buffer is allocated on both sides and freed at Dispose.
/// </summary>
public sealed class OpComparer : IDisposable
{
    private readonly List<IDisposable> buffers = [];
    private readonly Random random;

    public OpComparer(IOps test, IOps reference, int seed = 1234)
    {
        Test = test;
        Reference = reference;
        random = new Random(seed);
    }

    public IOps Test { get; }
    public IOps Reference { get; }

    /// <summary>A pair of buffers holding the same values, one on each side.</summary>
    public readonly record struct Pair<T>(DeviceBuffer<T> TestBuffer, DeviceBuffer<T> ReferenceBuffer) where T : unmanaged
    {
        /// <summary>The whole buffer on the side under test.</summary>
        public Slice<T> Test => TestBuffer.All;
        /// <summary>The whole buffer on the reference side.</summary>
        public Slice<T> Ref => ReferenceBuffer.All;
    }

    public Pair<T> Upload<T>(T[] values) where T : unmanaged
    {
        var t = Test.Allocate<T>(values.Length);
        var r = Reference.Allocate<T>(values.Length);
        buffers.Add(t);
        buffers.Add(r);
        Test.Upload<T>(values, t.All);
        Reference.Upload<T>(values, r.All);
        return new Pair<T>(t, r);
    }

    public Pair<float> Uniform(long length, float low = -1f, float high = 1f) => Upload(RandomFloats(length, low, high));

    public Pair<float> Zeros(long length) => Upload(new float[length]);

    public float[] RandomFloats(long length, float low = -1f, float high = 1f)
    {
        var values = new float[length];
        for (long i = 0; i < length; i++)
            values[i] = low + (high - low) * random.NextSingle();
        return values;
    }

    public int Next(int maxExclusive) => random.Next(maxExclusive);

    public OpComparison Compare(string op, string shape, Pair<float> pair, double tolerance)
    {
        var t = new float[pair.Test.Length];
        var r = new float[pair.Ref.Length];
        Test.Download(pair.Test, t);
        Reference.Download(pair.Ref, r);
        double maxAbs = 0, scale = 0;
        for (int i = 0; i < t.Length; i++)
        {
            double diff = Math.Abs((double)t[i] - r[i]);
            if (double.IsNaN(diff))
                maxAbs = double.NaN;
            else if (!double.IsNaN(maxAbs))
                maxAbs = Math.Max(maxAbs, diff);
            scale = Math.Max(scale, Math.Abs((double)r[i]));
        }
        return new OpComparison(op, shape, maxAbs, scale, tolerance);
    }

    public void Dispose()
    {
        foreach (var b in buffers)
            b.Dispose();
        buffers.Clear();
    }
}
