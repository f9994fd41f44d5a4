using IlgpuUnlearn.Data;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.IO;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Unlearning;

namespace IlgpuUnlearn.Cli.Commands;

/// <summary>Evaluation on the test set and the report's outputs: the card's table, the confusion matrix, JSON, a picture.</summary>
internal static class ReportOutputs
{
    public static UnlearningReport Evaluate(ResNet18 model, ImageDataset test, int forgetClass, CancellationToken cancel)
    {
        var logits = Predictor.Logits(model, test, cancel);
        var labels = new int[test.Count];
        for (int i = 0; i < labels.Length; i++) labels[i] = test.Labels[i];
        return UnlearningReport.Compute(labels, logits, forgetClass, test.ClassNames);
    }

    public static void Print(UnlearningReport report, string modelName)
    {
        Console.WriteLine();
        Console.WriteLine(ModelCardTable.Table([(report, modelName)]));
        Console.WriteLine();
        Console.WriteLine("per-class accuracy (%): " + string.Join("  ",
            report.ClassNames.Select((name, i) => $"{name} {ModelCardTable.Accuracy(report.PerClassAccuracy[i])}")));
        Console.WriteLine();
        Console.WriteLine(ConfusionMatrixText.Format(report));
    }

    /// <summary>Writes the JSON (one object, or an array for several reports) and the confusion-matrix picture (.svg or .png).</summary>
    public static void Write(IReadOnlyList<UnlearningReport> reports, string? jsonPath, string? picturePath)
    {
        if (jsonPath is not null)
        {
            string json = reports.Count == 1 ? UnlearningReportJson.Serialize(reports[0])
                : "[\n" + string.Join(",\n", reports.Select(UnlearningReportJson.Serialize)) + "\n]";
            AtomicFile.WriteAllText(jsonPath, json + "\n");
            Console.Error.WriteLine($"report: {jsonPath}");
        }
        if (picturePath is not null)
        {
            for (int i = 0; i < reports.Count; i++)
            {
                string path = reports.Count == 1 ? picturePath : WithSuffix(picturePath, $"_{reports[i].ForgetClass}");
                if (path.EndsWith(".png", StringComparison.OrdinalIgnoreCase)) ConfusionMatrixPng.Write(path, reports[i]);
                else if (path.EndsWith(".svg", StringComparison.OrdinalIgnoreCase)) ConfusionMatrixSvg.Write(path, reports[i]);
                else throw new UserError($"--confusion {path}: the picture must be .svg or .png");
                Console.Error.WriteLine($"confusion matrix picture: {Path.GetFullPath(path)}");
            }
        }
    }

    static string WithSuffix(string path, string suffix) =>
        Path.Combine(Path.GetDirectoryName(path) ?? "", Path.GetFileNameWithoutExtension(path) + suffix + Path.GetExtension(path));
}
