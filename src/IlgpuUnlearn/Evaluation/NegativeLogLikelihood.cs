namespace IlgpuUnlearn.Evaluation;

/// <summary>Per-sample loss of the card's table: -log_softmax(logits)[label], computed stably in double.</summary>
public static class NegativeLogLikelihood
{
    /// <summary>
    /// log(sum_j exp(z_j)) - z_label, with the largest logit subtracted before exponentiating so that
    /// logits in the hundreds (a model that has forgotten a class confidently) neither overflow nor lose the loss.
    /// </summary>
    public static double Of(ReadOnlySpan<float> logits, int label)
    {
        if ((uint)label >= (uint)logits.Length)
            throw new ArgumentOutOfRangeException(nameof(label), $"label {label} is not one of the {logits.Length} classes");
        double max = double.NegativeInfinity;
        foreach (float z in logits) max = Math.Max(max, z);
        double sum = 0;
        foreach (float z in logits) sum += Math.Exp(z - max);
        return max + Math.Log(sum) - logits[label];
    }

    /// <summary>Index of the largest logit; the first one on ties.</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int j = 1; j < logits.Length; j++)
            if (logits[j] > logits[best]) best = j;
        return best;
    }
}
