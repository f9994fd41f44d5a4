namespace IlgpuUnlearn.Data;

/// <summary>
/// A seeded 10-class set of 32x32 RGB images for demos and tests, learnable by a small CNN in a few epochs:
/// each class has its own shape (stripes in three directions, checkerboard, disk, square, cross, ring,
/// triangle, dots) in its own colour, drawn at a random offset and size over a random dark background,
/// with colour jitter and pixel noise. The same seed gives the same bytes on every machine.
/// </summary>
public static class SyntheticDataset
{
    public const int Size = 32;

    private static readonly string[] Names =
        ["h-stripes", "v-stripes", "diagonal", "checker", "disk", "square", "cross", "ring", "triangle", "dots"];

    // One distinct colour per class (R, G, B).
    private static readonly byte[,] Colours =
    {
        { 230, 60, 50 }, { 60, 200, 70 }, { 70, 110, 240 }, { 240, 220, 60 }, { 220, 70, 210 },
        { 60, 220, 220 }, { 250, 150, 40 }, { 235, 235, 235 }, { 150, 80, 230 }, { 170, 240, 60 },
    };

    public static IReadOnlyList<string> ClassNames => Names;

    /// <summary>
    /// <paramref name="trainPerClass"/> and <paramref name="testPerClass"/> images of each class, in a seeded
    /// random order (as CIFAR's files are), training and test images drawn from independent streams.
    /// </summary>
    public static DatasetSplit Generate(int trainPerClass, int testPerClass, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trainPerClass);
        ArgumentOutOfRangeException.ThrowIfNegative(testPerClass);
        return new DatasetSplit(
            Generate("synthetic train", trainPerClass, DeterministicRandom.DeriveSeed(seed, 1)),
            Generate("synthetic test", testPerClass, DeterministicRandom.DeriveSeed(seed, 2)));
    }

    private static ImageDataset Generate(string name, int perClass, long seed)
    {
        var rng = new DeterministicRandom(seed);
        int count = checked(perClass * Names.Length);
        var order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i % Names.Length;
        rng.Shuffle(order);

        const int plane = Size * Size;
        var pixels = new byte[(long)count * 3 * plane];
        var labels = new byte[count];
        for (int n = 0; n < count; n++)
        {
            labels[n] = (byte)order[n];
            Draw(order[n], rng, pixels.AsSpan(n * 3 * plane, 3 * plane));
        }
        return new ImageDataset(name, pixels, labels, 3, Size, Size, Names);
    }

    /// <summary>Draws one image of class <paramref name="label"/> into (3, 32, 32) bytes.</summary>
    private static void Draw(int label, DeterministicRandom rng, Span<byte> image)
    {
        const int plane = Size * Size;
        Span<double> background = stackalloc double[3];
        Span<double> colour = stackalloc double[3];
        for (int c = 0; c < 3; c++)
        {
            background[c] = rng.NextInt(80);
            colour[c] = Math.Clamp(Colours[label, c] + (rng.NextDouble() - 0.5) * 60, 0, 255);
        }
        double cx = 15.5 + (rng.NextDouble() - 0.5) * 8;   // shape centre, jittered by up to 4 pixels
        double cy = 15.5 + (rng.NextDouble() - 0.5) * 8;
        double radius = 7 + rng.NextDouble() * 5;          // 7..12
        double period = 4 + rng.NextInt(3);                // stripe period 4..6
        double phase = rng.NextDouble() * period;

        for (int y = 0; y < Size; y++)
        {
            for (int x = 0; x < Size; x++)
            {
                bool on = Covers(label, x - cx, y - cy, x, y, radius, period, phase);
                for (int c = 0; c < 3; c++)
                {
                    double v = (on ? colour[c] : background[c]) + rng.NextGaussian() * 12;
                    image[c * plane + y * Size + x] = (byte)Math.Clamp(Math.Round(v), 0, 255);
                }
            }
        }
    }

    /// <summary>Whether pixel (x, y), at (dx, dy) from the shape's centre, belongs to the class's shape.</summary>
    private static bool Covers(int label, double dx, double dy, int x, int y, double radius, double period, double phase)
    {
        double r = Math.Sqrt(dx * dx + dy * dy);
        bool inBox = Math.Abs(dx) <= radius && Math.Abs(dy) <= radius;
        return label switch
        {
            0 => Stripe(y + phase, period),                                   // horizontal stripes over the whole image
            1 => Stripe(x + phase, period),                                   // vertical stripes
            2 => Stripe((x + y) / Math.Sqrt(2) + phase, period),              // diagonal stripes
            3 => inBox && (((int)Math.Floor((dx + 16) / 4) + (int)Math.Floor((dy + 16) / 4)) & 1) == 0, // checkerboard patch
            4 => r <= radius,                                                 // filled disk
            5 => Math.Abs(dx) <= radius * 0.8 && Math.Abs(dy) <= radius * 0.8, // filled square
            6 => inBox && (Math.Abs(dx) <= 2 || Math.Abs(dy) <= 2),           // plus sign
            7 => r <= radius && r >= radius - 3,                              // ring
            8 => dy <= radius * 0.8 && dy >= -radius && Math.Abs(dx) <= (dy + radius) * 0.55, // triangle, apex up
            _ => Dot(dx + radius * 0.5, dy) || Dot(dx - radius * 0.5, dy) || Dot(dx, dy - radius * 0.6), // three dots
        };
    }

    private static bool Stripe(double coordinate, double period) =>
        coordinate - Math.Floor(coordinate / period) * period < period / 2;

    private static bool Dot(double dx, double dy) => dx * dx + dy * dy <= 9;
}
