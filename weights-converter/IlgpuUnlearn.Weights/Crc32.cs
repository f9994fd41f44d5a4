using System.Buffers.Binary;

namespace IlgpuUnlearn.Weights;

/// <summary>
/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as zip entries, gzip members and PNG chunks carry it. Eight
/// bytes a step with eight tables ("slicing-by-8": table k holds the CRC of a byte followed by k zero bytes), then one
/// byte a step for the rest.
/// </summary>
public static class Crc32
{
    private static readonly uint[][] Tables = BuildTables();

    /// <summary>The CRC of <paramref name="first"/> followed by <paramref name="second"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second = default) => Append(Append(0, first), second);

    /// <summary>The CRC of the bytes so far (<paramref name="crc"/>, 0 for none) followed by <paramref name="bytes"/>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> bytes)
    {
        uint[] t0 = Tables[0], t1 = Tables[1], t2 = Tables[2], t3 = Tables[3], t4 = Tables[4], t5 = Tables[5], t6 = Tables[6], t7 = Tables[7];
        crc ^= 0xFFFFFFFFu;
        while (bytes.Length >= 8)
        {
            uint low = BinaryPrimitives.ReadUInt32LittleEndian(bytes) ^ crc;
            uint high = BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]);
            crc = t7[low & 0xFF] ^ t6[(low >> 8) & 0xFF] ^ t5[(low >> 16) & 0xFF] ^ t4[low >> 24]
                ^ t3[high & 0xFF] ^ t2[(high >> 8) & 0xFF] ^ t1[(high >> 16) & 0xFF] ^ t0[high >> 24];
            bytes = bytes[8..];
        }
        foreach (byte b in bytes)
        {
            crc = t0[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }
        return crc ^ 0xFFFFFFFFu;
    }

    private static uint[][] BuildTables()
    {
        var tables = new uint[8][];
        tables[0] = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int bit = 0; bit < 8; bit++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            tables[0][n] = c;
        }
        for (int k = 1; k < 8; k++)
        {
            tables[k] = new uint[256];
            for (int n = 0; n < 256; n++) tables[k][n] = (tables[k - 1][n] >> 8) ^ tables[0][tables[k - 1][n] & 0xFF];
        }
        return tables;
    }
}
