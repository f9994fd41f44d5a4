using System.Globalization;
using System.Text;

namespace IlgpuUnlearn.Weights.Pickle;

/// <summary>The text arguments of protocol 0's string opcodes: STRING (a quoted Python 2 str literal) and UNICODE (raw-unicode-escape).</summary>
internal static class PickleTextLines
{
    /// <summary>
    /// STRING's argument: 'text' or "text" with Python's escapes (\\, \', \", \n, \r, \t, \xNN, octal \NNN, ...);
    /// the result holds one char per byte (latin-1), as Python 3 reads Python 2 str with encoding='latin1'.
    /// </summary>
    public static string ParseQuotedString(string line)
    {
        if (line.Length < 2 || line[0] is not ('\'' or '"') || line[^1] != line[0])
        {
            throw new FormatException("a STRING argument must be quoted");
        }
        string body = line[1..^1];
        var text = new StringBuilder(body.Length);
        for (int i = 0; i < body.Length; i++)
        {
            char c = body[i];
            if (c > 0xFF)
            {
                throw new FormatException("a STRING argument holds a non-ASCII character");
            }
            if (c != '\\')
            {
                text.Append(c);
                continue;
            }
            if (++i >= body.Length)
            {
                throw new FormatException("a STRING argument ends with a lone backslash");
            }
            char e = body[i];
            switch (e)
            {
                case 'n': text.Append('\n'); break;
                case 'r': text.Append('\r'); break;
                case 't': text.Append('\t'); break;
                case 'a': text.Append('\a'); break;
                case 'b': text.Append('\b'); break;
                case 'f': text.Append('\f'); break;
                case 'v': text.Append('\v'); break;
                case '\\' or '\'' or '"': text.Append(e); break;
                case '\n': break; // a line continuation
                case 'x':
                    text.Append((char)Hex(body.AsSpan(i + 1, Math.Min(2, body.Length - i - 1)), 2));
                    i += 2;
                    break;
                case >= '0' and <= '7':
                    int value = 0, digits = 0;
                    while (digits < 3 && i < body.Length && body[i] is >= '0' and <= '7')
                    {
                        value = value * 8 + (body[i++] - '0');
                        digits++;
                    }
                    i--;
                    text.Append((char)(value & 0xFF));
                    break;
                default: text.Append('\\').Append(e); break; // Python keeps unknown escapes as they are
            }
        }
        return text.ToString();
    }

    /// <summary>UNICODE's argument: latin-1 bytes with \uXXXX and \UXXXXXXXX escapes (pickle writes every backslash as \u005c).</summary>
    public static string ParseRawUnicodeEscape(ReadOnlySpan<byte> line)
    {
        var text = new StringBuilder(line.Length);
        for (int i = 0; i < line.Length; i++)
        {
            byte b = line[i];
            if (b == (byte)'\\' && i + 1 < line.Length && line[i + 1] is (byte)'u' or (byte)'U')
            {
                int digits = line[i + 1] == (byte)'u' ? 4 : 8;
                if (i + 2 + digits > line.Length)
                {
                    throw new FormatException("a UNICODE argument has a cut \\u escape");
                }
                int codePoint = Hex(Encoding.ASCII.GetString(line.Slice(i + 2, digits)), digits);
                if (codePoint is < 0 or > 0x10FFFF)
                {
                    throw new FormatException("a UNICODE argument escapes a code point beyond U+10FFFF");
                }
                text.Append(codePoint is >= 0xD800 and <= 0xDFFF ? ((char)codePoint).ToString() : char.ConvertFromUtf32(codePoint));
                i += 1 + digits;
                continue;
            }
            text.Append((char)b);
        }
        return text.ToString();
    }

    private static int Hex(ReadOnlySpan<char> digits, int expected)
    {
        if (digits.Length != expected || !int.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int value))
        {
            throw new FormatException($"bad hexadecimal escape '{digits}'");
        }
        return value;
    }
}
