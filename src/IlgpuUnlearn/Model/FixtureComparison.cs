namespace IlgpuUnlearn.Model;

/// <summary>
/// One check of this network against PyTorch (<see cref="PyTorchFixtureCheck"/>): the worst <see cref="Error"/> over the
/// values (or tensors) it covers, in the units <see cref="Measure"/> names, and the largest error that passes.
/// <see cref="Passed"/> is decided by the check's own criterion (strict or not, NaN fails), not recomputed from the two numbers.
/// </summary>
public sealed record FixtureComparison(string Name, double Error, double Tolerance, bool Passed, string Measure, string Detail)
{
    public override string ToString()
        => $"{(Passed ? "ok  " : "FAIL")} {Name,-46} {Error,9:0.00e+00}  (tol {Tolerance:G3}: {Measure})  {Detail}";
}

/// <summary>Folds per-tensor errors into one <see cref="FixtureComparison"/> that names the worst tensor and the first failure.</summary>
internal sealed class WorstError(string name, double tolerance, string measure)
{
    double worst;
    string? worstTensor, firstFailure;
    int tensors, failures;

    public void Add(string tensor, double error, bool passed)
    {
        tensors++;
        bool worse = worstTensor is null || (double.IsNaN(error) && !double.IsNaN(worst)) || error > worst;
        if (worse) { worst = error; worstTensor = tensor; }
        if (!passed)
        {
            failures++;
            firstFailure ??= $"{tensor} {error:0.00e+00}";
        }
    }

    public FixtureComparison Result(string unit = "tensors")
    {
        string detail = $"{tensors} {unit}, worst {worstTensor}";
        if (failures > 0) detail += $"; {failures} failed, first {firstFailure}";
        return new FixtureComparison(name, worst, tolerance, failures == 0 && tensors > 0, measure, detail);
    }
}
