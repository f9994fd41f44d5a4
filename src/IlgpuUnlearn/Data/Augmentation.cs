namespace IlgpuUnlearn.Data;

/// <summary>
/// Per-image parameters of the base model's training augmentation (random crop 32 of the image zero-padded by
/// <see cref="Padding"/>, then a random horizontal flip), as the ops' LoadImages reads them:
/// (N, 3) ints of (shiftY, shiftX, flip), shifts in [0, 2 * Padding] being the crop's offset into the padded image.
/// </summary>
public static class Augmentation
{
    /// <summary>Zero padding on each side before the crop.</summary>
    public const int Padding = 4;

    /// <summary>Ints per image: shiftY, shiftX, flip.</summary>
    public const int ParametersPerImage = 3;

    /// <summary>The shift that leaves the image where it was (crop offset = padding, no flip).</summary>
    public const int IdentityShift = Padding;

    /// <summary>Fills (N, 3) parameters for N = destination.Length / 3 images from <paramref name="rng"/>.</summary>
    public static void Draw(DeterministicRandom rng, Span<int> destination, int padding = Padding)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (destination.Length % ParametersPerImage != 0)
            throw new ArgumentException($"{destination.Length} is not a multiple of {ParametersPerImage}", nameof(destination));
        for (int i = 0; i < destination.Length; i += ParametersPerImage)
        {
            destination[i] = rng.NextInt(2 * padding + 1);
            destination[i + 1] = rng.NextInt(2 * padding + 1);
            destination[i + 2] = rng.NextInt(2);
        }
    }

    /// <summary>New (count, 3) parameters drawn from a seed.</summary>
    public static int[] Create(int count, long seed, int padding = Padding)
    {
        var result = new int[count * ParametersPerImage];
        Draw(new DeterministicRandom(seed), result, padding);
        return result;
    }

    /// <summary>
    /// Applies the parameters to one (C, H, W) byte image on the host, the way LoadImages does on the device:
    /// out[c, i, j] = in[c, i + shiftY - pad, j' + shiftX - pad] (zero outside), j' = W - 1 - j when flipped.
    /// The reference the device path is checked against.
    /// </summary>
    public static void Apply(ReadOnlySpan<byte> image, Span<byte> destination, int channels, int height, int width,
        int shiftY, int shiftX, int flip, int padding = Padding)
    {
        for (int c = 0; c < channels; c++)
        {
            for (int i = 0; i < height; i++)
            {
                int si = i + shiftY - padding;
                for (int j = 0; j < width; j++)
                {
                    int jj = flip != 0 ? width - 1 - j : j;
                    int sj = jj + shiftX - padding;
                    bool inside = (uint)si < (uint)height && (uint)sj < (uint)width;
                    destination[(c * height + i) * width + j] = inside ? image[(c * height + si) * width + sj] : (byte)0;
                }
            }
        }
    }
}
