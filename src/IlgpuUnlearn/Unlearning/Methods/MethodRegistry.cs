namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// The methods of <c>unlearn --method</c>, one line each, in the order --help and README list them. A new method is one
/// file (a class deriving from <see cref="UnlearningMethod"/>: its loop, its defaults with their sources) and one line here.
/// </summary>
public static class MethodRegistry
{
    public static readonly IReadOnlyList<UnlearningMethod> All =
    [
        new AdvNegGrad(),
        new FineTune(),
        new GradientAscent(),
        new RandomLabels(),
        new SalUn(),
        new Scrub(),
        new Ssd(),
        new Lfssd(),
        new Delete(),
        new L1Sparse(),
        new CfK(),
        new EuK(),
        new BadTeacher(),
        new NegGradPlus(),
    ];

    /// <summary>The method spelt <paramref name="optionName"/> (any case); ArgumentException listing the methods otherwise.</summary>
    public static UnlearningMethod Find(string optionName) =>
        All.FirstOrDefault(m => string.Equals(m.OptionName, optionName.Trim(), StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"--method '{optionName}': use one of {string.Join(", ", All.Select(m => m.OptionName))}");

    /// <summary>The method whose <see cref="UnlearningMethod.Name"/> or option name is <paramref name="name"/> (a manifest's "method").</summary>
    public static UnlearningMethod FindByName(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase)) ?? Find(name);

    /// <summary>The first method declaring the setting <paramref name="option"/>, or null.</summary>
    public static UnlearningMethod? OwnerOf(string option) => All.FirstOrDefault(m => m.Parameters.Any(p => p.Option == option));
}
