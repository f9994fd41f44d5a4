using IlgpuUnlearn.Model;
using IlgpuUnlearn.Unlearning;
using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Ilgpu;

/// <summary>
/// What `unlearn` does on the ILGPU path, planned without a device (<see cref="PlanningOps"/>): a network sized for
/// <c>maxBatch</c> takes one AdvNegGrad step (augmented forget and retain batches of <c>batch</c> images: input, every layer
/// forward and backward, loss, gradient combination, global norm, SGD) and an evaluation forward of min(batch, 500) images
/// (unlearn's --eval-batch-size default). Throws the op's one-line <see cref="ArgumentException"/> where a decision fails.
/// </summary>
public static class StepPlanning
{
    public static IReadOnlyList<OpPlan> PlanUnlearningStep(PlanningOps ops, ResNet18Config config, int maxBatch, int batch)
    {
        using var model = new ResNet18(ops, config, maxBatch);
        using var step = new TrainingStep(ops, model);
        int s = config.ImageSize;
        var pixels = new byte[(long)batch * 3 * s * s];
        var labels = Enumerable.Range(0, batch).Select(i => i % config.Classes).ToArray();
        var augment = new int[3 * batch];
        var images = new HostBatch(pixels, labels, augment, batch);
        var card = new AdvNegGrad().Defaults;
        var (retainScale, forgetScale) = AdvNegGrad.Scales(card);
        step.Unlearn(images, images, retainScale, forgetScale, card.UpdateAt(0));
        model.Forward(Math.Min(batch, 500), training: false);
        return ops.Plans;
    }
}
