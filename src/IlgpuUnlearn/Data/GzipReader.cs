using System.Buffers.Binary;
using System.IO.Compression;
using IlgpuUnlearn.Weights;

namespace IlgpuUnlearn.Data;

/// <summary>
/// Decompresses a gzip file (RFC 1952) as Python's gzip module and torchvision read it: any number of members one after
/// the other, then optionally zero padding. Each member's header is parsed here, its deflate data decompressed by
/// <see cref="DeflateStream"/>, and its trailer (CRC-32 and length modulo 2^32 of what was decompressed) checked, so a
/// cut file says "the gzip stream ends early" and a damaged one says so, instead of silently giving fewer bytes.
/// Sizes come from what the stream gives, never from the trailer.
/// </summary>
public sealed class GzipReader : ForwardReadStream
{
    private const int ChunkLength = 1 << 16;

    private readonly Stream _file;
    private readonly string _displayName;
    private readonly Feed _feed;
    private DeflateStream? _member;
    private uint _crc;
    private long _memberLength;
    private bool _finished;

    private GzipReader(Stream file, string displayName)
    {
        _file = file;
        _displayName = displayName;
        _feed = new Feed(file);
        StartMember(0);
    }

    /// <summary>True when the stream (at its start, left there) begins with the gzip magic bytes 1f 8b.</summary>
    public static bool StartsWithGzipMagic(Stream file)
    {
        Span<byte> start = stackalloc byte[2];
        file.Position = 0;
        int got = file.ReadAtLeast(start, 2, throwOnEndOfStream: false);
        file.Position = 0;
        return got == 2 && start[0] == 0x1f && start[1] == 0x8b;
    }

    /// <summary>
    /// Opens a seekable gzip stream for decompression (the stream stays open; dispose it yourself). A stream that is not
    /// gzip (no magic bytes 1f 8b) is refused: "not gzip-compressed".
    /// </summary>
    public static GzipReader Open(Stream file, string displayName)
    {
        if (!file.CanSeek)
            throw new ArgumentException("the gzip reader needs a seekable stream", nameof(file));
        if (!StartsWithGzipMagic(file))
            throw DataFormatException.ForFile(displayName, "is not gzip-compressed (it does not start with the gzip bytes 1f 8b)");
        return new GzipReader(file, displayName);
    }

    /// <summary>The whole decompressed content of a gzip stream; refused when it grows past <paramref name="maximumLength"/> bytes.</summary>
    public static byte[] DecompressAll(Stream file, string displayName, long maximumLength)
    {
        using var gzip = Open(file, displayName);
        using var content = new MemoryStream();
        var buffer = new byte[ChunkLength];
        int read;
        while ((read = gzip.Read(buffer)) > 0)
        {
            if (content.Length + read > maximumLength)
                throw DataFormatException.ForFile(displayName, $"decompresses to more than {maximumLength} bytes");
            content.Write(buffer, 0, read);
        }
        return content.ToArray();
    }

    public override int Read(Span<byte> buffer)
    {
        while (!_finished && buffer.Length > 0)
        {
            int read = _member!.Read(buffer);
            if (read > 0)
            {
                _crc = Crc32.Append(_crc, buffer[..read]);
                _memberLength += read;
                return read;
            }
            EndMember();
        }
        return 0;
    }

    /// <summary>Parses the member header at <paramref name="position"/> and starts decompressing its data.</summary>
    private void StartMember(long position)
    {
        // ID1 ID2 CM FLG MTIME(4) XFL OS, then FEXTRA (length-prefixed), FNAME and FCOMMENT (zero-terminated), FHCRC (2).
        var header = new byte[10];
        var magic = header.AsSpan(0, (int)Math.Clamp(_file.Length - position, 0, 2));
        _file.Position = position;
        _file.ReadExactly(magic);
        if (magic.Length < 2 || magic[0] != 0x1f || magic[1] != 0x8b)
            throw Problem("holds data after a gzip member that is neither another member nor zero padding");
        ReadAt(position, header, "a member header");
        if (header[2] != 8)
            throw Problem($"a gzip member uses compression method {header[2]}, not deflate (8)");
        byte flags = header[3];
        position += 10;
        if ((flags & 4) != 0)
        {
            var length = new byte[2];
            ReadAt(position, length, "its header");
            position += 2 + BinaryPrimitives.ReadUInt16LittleEndian(length);
        }
        foreach (int flag in new[] { 8, 16 })
        {
            if ((flags & flag) == 0) continue;
            var one = new byte[1];
            do
            {
                ReadAt(position++, one, "its header");
            }
            while (one[0] != 0);
        }
        if ((flags & 2) != 0) position += 2;
        if (position > _file.Length)
            throw Problem("the gzip stream ends early (cut short in a member header)");
        _feed.Restart(position);
        _member = new DeflateStream(_feed, CompressionMode.Decompress, leaveOpen: true);
        _crc = 0;
        _memberLength = 0;
    }

    /// <summary>
    /// The member's deflate data has ended (or the file has): finds its trailer right after the deflate data, which lies in
    /// the last chunk given to the decompressor, checks it, and goes on to the next member, zero padding or the end.
    /// </summary>
    private void EndMember()
    {
        _member!.Dispose();
        long searchEnd = Math.Min(_file.Length, _feed.LastChunkEnd + 8);
        var window = new byte[Math.Max(0, searchEnd - _feed.LastChunkStart)];
        ReadAt(_feed.LastChunkStart, window, "its trailer");
        Span<byte> trailer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, _crc);
        BinaryPrimitives.WriteUInt32LittleEndian(trailer[4..], (uint)_memberLength);
        int at = window.AsSpan().IndexOf(trailer);
        if (at < 0)
        {
            bool cut = _feed.ReachedEnd || _feed.LastChunkEnd + 8 > _file.Length;
            throw Problem(cut
                ? $"the gzip stream ends early (cut short after {_memberLength} decompressed bytes of a member)"
                : "a gzip member's CRC-32 or length does not match its data (the file is damaged)");
        }
        long next = _feed.LastChunkStart + at + 8;
        var rest = new byte[Math.Min(ChunkLength, _file.Length - next)];
        while (rest.Length > 0)
        {
            ReadAt(next, rest, "what follows");
            if (rest.AsSpan().ContainsAnyExcept((byte)0))
            {
                if (rest[0] == 0)
                    throw Problem("holds data after its zero padding");
                StartMember(next);
                return;
            }
            next += rest.Length;
            rest = new byte[Math.Min(ChunkLength, _file.Length - next)];
        }
        _finished = true;
    }

    private void ReadAt(long position, byte[] target, string what)
    {
        if (position + target.Length > _file.Length)
            throw Problem($"the gzip stream ends early (cut short in {what})");
        _file.Position = position;
        _file.ReadExactly(target);
    }

    private DataFormatException Problem(string problem) => DataFormatException.ForFile(_displayName, problem);

    protected override void Dispose(bool disposing)
    {
        if (disposing) _member?.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Gives the decompressor the file from a position, one chunk at a time, remembering where the last chunk lay.</summary>
    private sealed class Feed(Stream file) : ForwardReadStream
    {
        private long _position;

        public long LastChunkStart { get; private set; }
        public long LastChunkEnd { get; private set; }
        public bool ReachedEnd { get; private set; }

        public void Restart(long position)
        {
            _position = LastChunkStart = LastChunkEnd = position;
            ReachedEnd = false;
        }

        public override int Read(Span<byte> buffer)
        {
            if (file.Position != _position) file.Position = _position; // (setting it anew would drop the file's read buffer)
            int read = file.Read(buffer[..Math.Min(buffer.Length, ChunkLength)]);
            if (read == 0)
            {
                ReachedEnd = true;
                return 0;
            }
            LastChunkStart = _position;
            _position += read;
            LastChunkEnd = _position;
            return read;
        }
    }
}

/// <summary>A stream read front to back only: no length, position, seeking or writing.</summary>
public abstract class ForwardReadStream : Stream
{
    public abstract override int Read(Span<byte> buffer);

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
