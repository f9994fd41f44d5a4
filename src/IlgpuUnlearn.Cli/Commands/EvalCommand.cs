using CommandLine;
using IlgpuUnlearn.Data;
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

    [Option("mean", HelpText = DataChoice.MeanHelp)]
    public string? Mean { get; set; }

    [Option("std", HelpText = DataChoice.StdHelp)]
    public string? Std { get; set; }

    [Option("device", HelpText = DeviceChoice.Help)]
    public string? Device { get; set; }

    [Option("json", HelpText = "Write the report as JSON here.")]
    public string? Json { get; set; }

    [Option("confusion", HelpText = "Draw the confusion matrix here (.svg or .png).")]
    public string? Confusion { get; set; }

    [Option("batch-size", Default = 500, HelpText = "Images per batch.")]
    public int BatchSize { get; set; }

    [Option("limit", HelpText = "Evaluate at most N test images: the first N/10 of each class. For a quick trial.")]
    public int? Limit { get; set; }
}

/// <summary>eval: 1. check every option, the class name, the device and the output locations; 2. load; 3. evaluate and report.</summary>
internal static class EvalCommand
{
    public static int Run(EvalOptions o)
    {
        var plan = Plan(o);
        using var cancel = new Cancellation();
        var written = new WrittenFiles();
        try
        {
            var data = DataChoice.LoadData(plan, cancel.Token);
            var (weights, path) = DataChoice.LoadWeights(plan.WeightsPath, cancel.Token);
            (data, var config) = DataChoice.FitModel(data, weights, path, plan.Mean, plan.Std);
            var outputs = plan.Classes[0];
            int batch = Math.Min(o.BatchSize, data.Test.Count);
            DeviceChoice.CheckMemory(plan.Devices, config, batch, training: false, "--batch-size");
            DeviceWorkers.Run(plan.Devices, plan.DefaultDevice, [outputs],
                ops => new ResNet18(ops, config, batch),
                (model, job, _, token) =>
                {
                    ModelFiles.Load(model, weights);
                    var report = ReportOutputs.Evaluate(model, data.Test, job.ForgetClass, token);
                    ReportOutputs.Print(report, Path.GetFileName(path));
                    ReportOutputs.WriteClass(job, report, written);
                }, cancel.Token);
            return 0;
        }
        catch (OperationCanceledException e) when (e is not RunInterruptedException)
        {
            throw written.Interrupted(null);
        }
    }

    static RunPlan Plan(EvalOptions o)
    {
        PlanChecks.AtLeast(o.BatchSize, 1, "--batch-size");
        var kind = PlanChecks.Dataset(o.Dataset);
        var names = DatasetLoader.ClassNames(kind);
        int k = PlanChecks.ForgetClasses(o.ForgetClass, names, allowAll: false)[0];
        var (devices, isDefault) = PlanChecks.Devices(o.Device, allowSeveral: false);
        DataChoice.CheckData(kind, o.Data);
        PlanChecks.InputPath(o.Weights, "--weights");
        DataChoice.RequireWeights(kind, o.Weights);
        DataChoice.CheckNormalization(o.Mean, o.Std);
        string[] pictures = o.Confusion is null ? [] : [PlanChecks.OutputFile(o.Confusion, "--confusion", PlanChecks.PictureExtensions)];
        if (o.Json is not null) PlanChecks.OutputFile(o.Json, "--json");
        return new RunPlan
        {
            Dataset = kind, DataPath = o.Data, WeightsPath = o.Weights, ClassNames = names,
            Classes = [new ClassOutputs(k, Model: null, o.Json, pictures)], Devices = devices, DefaultDevice = isDefault,
            Json = o.Json, Limit = DataChoice.CheckLimit(o.Limit, names.Count), Mean = o.Mean, Std = o.Std,
        };
    }
}
