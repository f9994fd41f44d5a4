namespace IlgpuUnlearn.Evaluation;

/// <summary>CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as PNG chunks carry it.</summary>
internal static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    public static uint Compute(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second = default)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in first) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        foreach (byte b in second) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int bit = 0; bit < 8; bit++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}
