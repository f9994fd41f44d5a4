using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>Runs a method (<see cref="MethodSettings.Method"/>) on a model holding the original model: checks, then the method's loop.</summary>
public static class MethodRun
{
    /// <summary>Returns the steps taken and the images they forwarded and backpropagated. ArgumentException for settings or data the
    /// method cannot run with; <see cref="NonFiniteLossException"/> when a loss or the gradient norm is not finite.
    /// <paramref name="note"/> receives the method's one-line remarks on its run (<see cref="MethodLoop.Note"/>).</summary>
    public static (int Steps, long Images) Run(ResNet18 model, ImageDataset train, int forgetClass, MethodSettings settings,
        Action<StepProgress>? progress = null, CancellationToken cancel = default, Action<string>? note = null)
    {
        settings.Validate();
        var method = settings.Method;
        if (settings.BatchSize > model.MaxBatch) throw new ArgumentException($"batch size {settings.BatchSize} exceeds the model's {model.MaxBatch}");
        if ((uint)forgetClass >= (uint)train.ClassCount) throw new ArgumentException($"forget class {forgetClass} is outside 0..{train.ClassCount - 1}");
        if (train.ClassCount < 2) throw new ArgumentException($"{train.Name} has one class: nothing to relabel or retain");
        if (method.NeedsRetain && train.IndicesNotOfClass(forgetClass).Length == 0)
            throw new ArgumentException($"{method.Name} needs a retain set; {train.Name} has only class {forgetClass}");
        if (method.NeedsForget && train.IndicesOfClass(forgetClass).Length == 0)
            throw new ArgumentException($"{method.Name} needs a forget set; {train.Name} has no image of class {forgetClass}");
        using var loop = new MethodLoop(model, train, forgetClass, settings, progress, cancel, note);
        method.Run(loop);
        return (loop.Taken, loop.Images);
    }
}
