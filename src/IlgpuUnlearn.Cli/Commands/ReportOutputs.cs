using System.Diagnostics;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.IO;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Unlearning;

namespace IlgpuUnlearn.Cli.Commands;

/// <summary>Evaluation on the test set and the report's outputs: the card's table, the confusion matrix, JSON, a picture.</summary>
internal static class ReportOutputs
{
    /// <summary>Keeps a report's lines together when several devices finish at once.</summary>
    static readonly object ConsoleGate = new();

    /// <summary>The report of <paramref name="model"/> on <paramref name="test"/>, with a progress line (and ETA) per batch.</summary>
    public static UnlearningReport Evaluate(ResNet18 model, ImageDataset test, int forgetClass, CancellationToken cancel, string? label = null)
    {
        var clock = Stopwatch.StartNew();
        var logits = Predictor.Logits(model, test, cancel, (done, total) => ProgressLine.ShowEvaluation(done, total, clock.Elapsed, label));
        ProgressLine.Finish();
        var labels = new int[test.Count];
        for (int i = 0; i < labels.Length; i++) labels[i] = test.Labels[i];
        return UnlearningReport.Compute(labels, logits, forgetClass, test.ClassNames);
    }

    /// <summary>The card's row, per-class accuracy and the confusion matrix on stdout (and, first, lines for stderr).</summary>
    public static void Print(UnlearningReport report, string modelName, params string[] stderrLines)
    {
        lock (ConsoleGate)
        {
            foreach (var line in stderrLines) Console.Error.WriteLine(line);
            Console.WriteLine();
            Console.WriteLine(ModelCardTable.Table([(report, modelName)]));
            PrintDetails(report);
        }
    }

    /// <summary>The per-class accuracies and the confusion matrix (for a caller that has printed the card's row itself).</summary>
    public static void PrintDetails(UnlearningReport report)
    {
        lock (ConsoleGate)
        {
            Console.WriteLine();
            Console.WriteLine("per-class accuracy (%): " + string.Join("  ",
                report.ClassNames.Select((name, i) => $"{name} {ModelCardTable.Accuracy(report.PerClassAccuracy[i])}")));
            Console.WriteLine();
            Console.WriteLine(ConfusionMatrixText.Format(report));
        }
    }

    /// <summary>A class's report: its pictures, then its JSON (the model, written by the caller, comes after both).</summary>
    public static void WriteClass(ClassOutputs outputs, UnlearningReport report, WrittenFiles written)
    {
        foreach (var picture in outputs.Pictures) WritePicture(picture, report, written);
        if (outputs.Report is not null) WriteJson(outputs.Report, [report], written);
    }

    /// <summary>One report as a JSON object, several as an array.</summary>
    public static void WriteJson(string path, IReadOnlyList<UnlearningReport> reports, WrittenFiles written)
    {
        string json = reports.Count == 1 ? UnlearningReportJson.Serialize(reports[0])
            : "[\n" + string.Join(",\n", reports.Select(UnlearningReportJson.Serialize)) + "\n]";
        AtomicFile.WriteAllText(path, json + "\n");
        written.Add(path);
        Console.Error.WriteLine($"report: {Path.GetFullPath(path)}");
    }

    /// <summary>The confusion matrix as .svg or .png (the extension was checked with the plan).</summary>
    public static void WritePicture(string path, UnlearningReport report, WrittenFiles written)
    {
        if (path.EndsWith(".png", StringComparison.OrdinalIgnoreCase)) ConfusionMatrixPng.Write(path, report);
        else ConfusionMatrixSvg.Write(path, report);
        written.Add(path);
        Console.Error.WriteLine($"confusion matrix picture: {Path.GetFullPath(path)}");
    }

    /// <summary>"conf.svg" with suffix "_3" is "conf_3.svg", in the same folder.</summary>
    public static string WithSuffix(string path, string suffix) =>
        Path.Combine(Path.GetDirectoryName(path) ?? "", Path.GetFileNameWithoutExtension(path) + suffix + Path.GetExtension(path));

    /// <summary>A report written by an earlier run (--resume), or one line saying why it cannot be used.</summary>
    public static UnlearningReport ReadBack(string path, string? model)
    {
        try
        {
            return UnlearningReportJson.Read(path);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or IOException or UnauthorizedAccessException)
        {
            throw new UserError($"{path}: cannot read this report back for --resume ({UserFacing.Message(e)}); " +
                                $"delete it{(model is null ? "" : $" and {model}")} to run the class again");
        }
    }
}
