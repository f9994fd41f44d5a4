using CommandLine;
using IlgpuUnlearn.Model;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("eval", HelpText = "Evaluate a model on the test set as the model card does: forget/retain accuracy and loss, per-class accuracy, confusion matrix.")]
public sealed class EvalOptions
{
    [Option("weights", HelpText = DataChoice.WeightsHelp)]
    public string? Weights { get; set; }

    [Option("forget-class", Required = true, HelpText = "The class that was forgotten: 0-9 or a class name.")]
    public string ForgetClass { get; set; } = "";

    [Option("data", HelpText = DataChoice.DataHelp)]
    public string? Data { get; set; }

    [Option("dataset", Default = "cifar10", HelpText = DataChoice.DatasetHelp)]
    public string Dataset { get; set; } = "cifar10";

    [Option("device", HelpText = DeviceChoice.Help)]
    public string? Device { get; set; }

    [Option("json", HelpText = "Write the report as JSON here.")]
    public string? Json { get; set; }

    [Option("confusion", HelpText = "Draw the confusion matrix here (.svg or .png).")]
    public string? Confusion { get; set; }

    [Option("batch-size", Default = 500, HelpText = "Images per batch.")]
    public int BatchSize { get; set; }
}

internal static class EvalCommand
{
    public static int Run(EvalOptions o)
    {
        if (o.BatchSize < 1) throw new UserError($"--batch-size must be at least 1, got {o.BatchSize}");
        DeviceChoice.Check(o.Device);
        using var cancel = new Cancellation();
        var data = DataChoice.LoadData(o.Dataset, o.Data, cancel.Token);
        var classes = DataChoice.ParseForgetClasses(o.ForgetClass, data.Test.ClassNames);
        if (classes.Length != 1) throw new UserError("eval takes one --forget-class");
        var (weights, path) = DataChoice.LoadWeights(o.Weights, cancel.Token);
        if (weights.NumClasses != data.Test.ClassCount)
            throw new UserError($"the model has {weights.NumClasses} classes, the data {data.Test.ClassCount}");

        var config = ModelFiles.ConfigOf(weights);
        int batch = Math.Min(o.BatchSize, data.Test.Count);
        DeviceChoice.CheckMemory(o.Device, config, batch, training: false, "--batch-size");
        using var ops = DeviceChoice.Open(o.Device);
        using var model = new ResNet18(ops, config, batch);
        ModelFiles.Load(model, weights);
        var report = ReportOutputs.Evaluate(model, data.Test, classes[0], cancel.Token);
        ReportOutputs.Print(report, Path.GetFileName(path));
        ReportOutputs.Write([report], o.Json, o.Confusion);
        return 0;
    }
}
