using System.Globalization;
using System.Text;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// The model card's results table, character for character:
/// <c>| cifar10_resnet18_AdvNegGrad_3.pth | Cat | 0.0 (26.171) | 92.44 (0.512) |</c>.
/// Accuracies have two decimals except that zero is written 0.0, as the card does; losses three decimals.
/// </summary>
public static class ModelCardTable
{
    public const string HeaderLine = "| Model | Forget Class | Forget class acc(loss) | Retain class acc(loss) |";
    public const string RuleLine = "|--------------------------------|--------------|-------------------------|-------------------------|";

    /// <summary>The two header lines, joined with a newline.</summary>
    public static string Header => HeaderLine + "\n" + RuleLine;

    /// <summary>The card's model file name: cifar10_resnet18_AdvNegGrad_{k}.pth (another method's name in its place: cifar10_resnet18_SCRUB_{k}.pth).</summary>
    public static string ModelName(int forgetClass, string dataset = "cifar10", string architecture = "resnet18", string method = "AdvNegGrad") =>
        string.Create(CultureInfo.InvariantCulture, $"{dataset}_{architecture}_{method}_{forgetClass}.pth");

    public static string Row(UnlearningReport report, string? modelName = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        string model = modelName ?? ModelName(report.ForgetClass);
        return $"| {model} | {Capitalise(report.ForgetClassName)} | {Accuracy(report.ForgetAccuracy)} ({Loss(report.ForgetLoss)}) | " +
               $"{Accuracy(report.RetainAccuracy)} ({Loss(report.RetainLoss)}) |";
    }

    /// <summary>Header and one row per report.</summary>
    public static string Table(IEnumerable<(UnlearningReport Report, string? ModelName)> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var text = new StringBuilder().Append(HeaderLine).Append('\n').Append(RuleLine).Append('\n');
        foreach (var (report, name) in rows) text.Append(Row(report, name)).Append('\n');
        return text.ToString();
    }

    /// <summary>Two decimals; exactly zero as "0.0".</summary>
    public static string Accuracy(double percent) =>
        percent == 0 ? "0.0" : percent.ToString("F2", CultureInfo.InvariantCulture);

    /// <summary>Three decimals, as the card writes losses; beyond 10^6 four significant digits with an exponent (1.235e+24), not 27 digits.</summary>
    public static string Loss(double loss) =>
        Math.Abs(loss) < 1e6 || !double.IsFinite(loss)
            ? loss.ToString("F3", CultureInfo.InvariantCulture)
            : loss.ToString("0.###e+0", CultureInfo.InvariantCulture);

    /// <summary>"cat" becomes "Cat"; names that already start with a capital stay as they are.</summary>
    public static string Capitalise(string name) =>
        name.Length == 0 ? name : char.ToUpperInvariant(name[0]) + name[1..];
}
