using System.Globalization;

namespace IlgpuUnlearn.Data;

/// <summary>
/// The per-channel normalisation a network was trained with, applied after scaling pixels to [0, 1]:
/// x[c] = (p / 255 - Mean[c]) / Std[c] (torchvision's ToTensor then Normalize). It belongs to the checkpoint,
/// not to the code: evaluating a model with another model's values silently ruins its accuracy.
/// </summary>
/// <param name="Name">A preset's name, or "custom".</param>
/// <param name="Mean">One value per input channel, in [0, 1].</param>
/// <param name="Std">One value per input channel, above 0.</param>
/// <param name="Source">Where the numbers come from, for the printed line and the docs.</param>
public sealed record InputNormalization(string Name, float[] Mean, float[] Std, string Source)
{
    /// <summary>
    /// CIFAR-10's training-set mean with the standard deviations the base model (and kuangliu/pytorch-cifar, which its
    /// training follows) was trained with; docs/methods.md. The sample std of CIFAR-10's pixels is (0.2470, 0.2435, 0.2616).
    /// </summary>
    public static InputNormalization Cifar10 { get; } = new("cifar10", [0.4914f, 0.4822f, 0.4465f], [0.2023f, 0.1994f, 0.2010f],
        "the card's base model training");

    /// <summary>Mean and population std of the 60,000 Fashion-MNIST training images' pixels / 255 (0.28604, 0.35302), computed from the IDX files.</summary>
    public static InputNormalization FashionMnist { get; } = new("fashion-mnist", [0.2860f], [0.3530f],
        "Fashion-MNIST's 60,000 training images");

    /// <summary>MNIST's training-set mean and std, as in PyTorch's examples (mnist/main.py: Normalize((0.1307,), (0.3081,))).</summary>
    public static InputNormalization Mnist { get; } = new("mnist", [0.1307f], [0.3081f], "MNIST's training images (PyTorch examples)");

    /// <summary>ImageNet's values that torchvision's pretrained models document (mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)).</summary>
    public static InputNormalization ImageNet { get; } = new("imagenet", [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f],
        "torchvision's ImageNet models");

    /// <summary>Pixels scaled to [-1, 1]: Normalize(0.5, 0.5), a common choice in small-network tutorials.</summary>
    public static InputNormalization Half { get; } = new("half", [0.5f], [0.5f], "Normalize(0.5, 0.5): pixels to [-1, 1]");

    /// <summary>Pixels scaled to [0, 1] only (ToTensor without Normalize).</summary>
    public static InputNormalization None { get; } = new("none", [0f], [1f], "ToTensor only: pixels in [0, 1]");

    /// <summary>What a model of <paramref name="channels"/> input channels was most likely trained with when nothing says: Fashion-MNIST's statistics for grey (1-channel) networks, CIFAR-10's for colour ones.</summary>
    public static InputNormalization DefaultFor(int channels) => channels == 1 ? FashionMnist : Cifar10;

    public static IReadOnlyList<InputNormalization> Presets { get; } = [Cifar10, FashionMnist, Mnist, ImageNet, Half, None];

    public int Channels => Mean.Length;

    /// <summary>
    /// The normalisation for a network with <paramref name="channels"/> input channels: itself, or a one-value preset
    /// repeated on every channel (a grey image copied to R, G and B keeps its statistics on each).
    /// </summary>
    /// <exception cref="ArgumentException">Several values that are not one per channel.</exception>
    public InputNormalization ForChannels(int channels)
    {
        if (channels == Channels) return this;
        if (Channels == 1)
            return this with { Mean = Enumerable.Repeat(Mean[0], channels).ToArray(), Std = Enumerable.Repeat(Std[0], channels).ToArray() };
        throw new ArgumentException($"normalisation {Name} has {Channels} values per statistic; the model reads {channels}-channel images (give --mean and --std with {channels} value{(channels == 1 ? "" : "s")})");
    }

    /// <summary>
    /// From the options: a preset name in <paramref name="mean"/> or <paramref name="std"/> (or both), or numbers in both,
    /// comma-separated, one per channel or one for all; nothing given gives <paramref name="fallback"/>.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown name, a number missing or out of range; the message names the option.</exception>
    public static InputNormalization Parse(string? mean, string? std, InputNormalization fallback)
    {
        mean = string.IsNullOrWhiteSpace(mean) ? null : mean.Trim();
        std = string.IsNullOrWhiteSpace(std) ? null : std.Trim();
        if (mean is null && std is null) return fallback;
        var preset = FindPreset(mean) ?? FindPreset(std);
        if (preset is not null)
        {
            foreach (var (option, value) in new[] { ("--mean", mean), ("--std", std) })
                if (value is not null && FindPreset(value) != preset)
                    throw new ArgumentException($"{option} '{value}': with the preset {preset.Name}, give the same name or leave {option} out");
            return preset;
        }
        var m = mean is null ? null : Numbers("--mean", mean, allowZero: true);
        var s = std is null ? null : Numbers("--std", std, allowZero: false);
        if (m is null || s is null)
            throw new ArgumentException($"{(m is null ? "--mean" : "--std")} is missing: give numbers for both --mean and --std, or a preset name ({PresetNames})");
        if (m.Length != s.Length && m.Length != 1 && s.Length != 1)
            throw new ArgumentException($"--mean has {m.Length} values and --std {s.Length}: give one per channel, or one for all");
        int channels = Math.Max(m.Length, s.Length);
        return new InputNormalization("custom", Repeat(m, channels), Repeat(s, channels), "--mean/--std");
    }

    public static string PresetNames => string.Join(", ", Presets.Select(p => p.Name));

    /// <summary>"cifar10: mean (0.4914, 0.4822, 0.4465), std (0.2023, 0.1994, 0.2010)".</summary>
    public override string ToString() => $"{Name}: mean ({Join(Mean)}), std ({Join(Std)})";

    static InputNormalization? FindPreset(string? name)
    {
        if (name is null) return null;
        return Key(name) switch
        {
            "cifar" => Cifar10,
            "fmnist" => FashionMnist,
            var key => Presets.FirstOrDefault(p => Key(p.Name) == key),
        };
        static string Key(string text) => text.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();
    }

    static float[] Numbers(string option, string text, bool allowZero)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !float.IsFinite(values[i]))
                throw new ArgumentException($"{option} '{text}': '{parts[i]}' is neither a number nor a preset ({PresetNames})");
            if (allowZero ? values[i] < 0 || values[i] > 1 : values[i] <= 0 || values[i] > 1)
                throw new ArgumentException($"{option} {parts[i]} is outside {(allowZero ? "[0, 1]" : "(0, 1]")} (values of pixels scaled to [0, 1])");
        }
        return values;
    }

    static float[] Repeat(float[] values, int channels) => values.Length == channels ? values : Enumerable.Repeat(values[0], channels).ToArray();

    static string Join(float[] values) => string.Join(", ", values.Select(v => v.ToString("0.0###", CultureInfo.InvariantCulture)));
}
