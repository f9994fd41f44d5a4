namespace IlgpuUnlearn.Model;

/// <summary>Work of the network, for benchmarks' achieved-FLOP/s figures.</summary>
public static class ResNet18Flops
{
    /// <summary>Multiply-adds of one image's forward pass through the convolutions and fc (0.56 G for the CIFAR network).</summary>
    public static long ForwardMacsPerImage(ResNet18Config c)
    {
        long macs = 0;
        int s = c.ImageSize, w = c.Width;
        macs += (long)s * s * w * c.InputChannels * 9;
        int cin = w;
        for (int layer = 1; layer <= 4; layer++)
        {
            int cout = w << (layer - 1);
            for (int block = 0; block < 2; block++)
            {
                bool down = ResNet18Layout.HasDownsample(layer, block);
                if (down) s = ResNet18Config.StageSize(s, 2);
                int blockIn = block == 0 ? cin : cout;
                macs += (long)s * s * cout * blockIn * 9 + (long)s * s * cout * cout * 9;
                if (down) macs += (long)s * s * cout * blockIn;
            }
            cin = cout;
        }
        return macs + 8L * w * c.Classes;
    }
}
