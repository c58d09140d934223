using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace OmniGateway.Usage.Storage;

/// <summary>
/// SQLITE_FCNTL_CHUNK_SIZE: the database file grows (at checkpoints) in large steps instead of a page at a
/// time, so the file system allocates, and zeroes, blocks once per chunk rather than on every commit.
/// SQLitePCLRaw does not wrap sqlite3_file_control, so it is called in the bundled e_sqlite3 directly.
/// </summary>
internal static class SqliteFileGrowth
{
    private const int SqliteOk = 0;
    private const int FileControlChunkSize = 6; // SQLITE_FCNTL_CHUNK_SIZE
    private static readonly byte[] MainDatabase = "main\0"u8.ToArray();

    /// <summary>False when the native library or the call is unavailable: growth then stays SQLite's default, nothing else changes.</summary>
    public static bool TrySetChunkSize(SqliteConnection connection, int bytes)
    {
        if (connection.Handle is not { } handle) return false;
        try
        {
            var size = bytes;
            return NativeMethods.sqlite3_file_control(handle.DangerousGetHandle(), MainDatabase, FileControlChunkSize, ref size) == SqliteOk;
        }
        catch (Exception exception) when (exception is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    private static class NativeMethods
    {
        [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.AssemblyDirectory | DllImportSearchPath.SafeDirectories)]
        public static extern int sqlite3_file_control(nint db, byte[] databaseName, int operation, ref int argument);
    }
}
