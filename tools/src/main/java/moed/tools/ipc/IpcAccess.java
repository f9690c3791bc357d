package moed.tools.ipc;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.Set;

/**
 * Who may use an IPC directory. Prompts and answers travel through its files, so by default only the owner may:
 * the directory is 0700 and its files 0600. Shared with one group (as Docker shares its socket), the directory is
 * 0770 and its files 0660, all of that group. A directory others can write (or, unshared, the group can) is refused,
 * as ssh refuses loose key files: whoever can write it can replace the rings. Root bypasses these modes; the modes
 * still keep everyone else out.
 */
public final class IpcAccess {
    static final Set<PosixFilePermission> OWNER_DIR = PosixFilePermissions.fromString("rwx------");
    static final Set<PosixFilePermission> OWNER_FILE = PosixFilePermissions.fromString("rw-------");
    static final Set<PosixFilePermission> GROUP_DIR = PosixFilePermissions.fromString("rwxrwx---");
    static final Set<PosixFilePermission> GROUP_FILE = PosixFilePermissions.fromString("rw-rw----");

    /** The group sharing the directory, or null: the owner only. */
    private final GroupPrincipal group;

    private IpcAccess(GroupPrincipal group) {
        this.group = group;
    }

    /** The owner only. */
    public static IpcAccess owner() {
        return new IpcAccess(null);
    }

    /** Shared with the named group (the server's --ipc-group). */
    public static IpcAccess group(Path dir, String name) throws IOException {
        try {
            return new IpcAccess(dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByGroupName(name));
        } catch (UserPrincipalNotFoundException e) {
            throw new IOException("no group named '" + name + "' (--ipc-group)");
        }
    }

    /**
     * What a client finds: files it creates (its reply ring) follow the directory, shared with the directory's group
     * when the directory grants its group access.
     */
    static IpcAccess of(Path dir) throws IOException {
        PosixFileAttributes a = Files.readAttributes(dir, PosixFileAttributes.class);
        return a.permissions().contains(PosixFilePermission.GROUP_WRITE) ? new IpcAccess(a.group()) : owner();
    }

    public boolean shared() {
        return group != null;
    }

    /** Server: creates the directory (or, shared, gives an existing one to the group) and checks it. */
    void prepareDirectory(Path dir) throws IOException {
        Set<PosixFilePermission> mode = shared() ? GROUP_DIR : OWNER_DIR;
        boolean created = false;
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir.toAbsolutePath().getParent());
            try {
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(mode));
                created = true;
            } catch (FileAlreadyExistsException e) {
                // made meanwhile by someone else: checked below like any existing directory
            }
        }
        if (created || shared()) {
            Files.setPosixFilePermissions(dir, mode); // the umask may have taken bits the group needs
            if (shared()) {
                Files.getFileAttributeView(dir, PosixFileAttributeView.class).setGroup(group);
            }
        }
        checkNotLoose(dir, shared());
    }

    /** Gives a file this access's mode and group (chmod is not subject to the umask). */
    void apply(Path file) throws IOException {
        Files.setPosixFilePermissions(file, shared() ? GROUP_FILE : OWNER_FILE);
        if (shared()) {
            Files.getFileAttributeView(file, PosixFileAttributeView.class).setGroup(group);
        }
    }

    /** Creates a file no one else can open in between (created 0600, then given its mode). */
    void createFile(Path file) throws IOException {
        Files.createFile(file, PosixFilePermissions.asFileAttribute(OWNER_FILE));
        apply(file);
    }

    /** Refuses a directory that others, or (unless the group may write) its group, can write, naming it and its mode. */
    static void checkNotLoose(Path dir, boolean groupMayWrite) throws IOException {
        Set<PosixFilePermission> p = Files.getPosixFilePermissions(dir);
        String who = p.contains(PosixFilePermission.OTHERS_WRITE) ? "every local user"
                : !groupMayWrite && p.contains(PosixFilePermission.GROUP_WRITE) ? "its group" : null;
        if (who != null) {
            throw new IOException("refusing the IPC directory " + dir + ": its mode " + octal(p) + " lets " + who
                    + " write it, and so replace the rings that carry prompts and answers; chmod 700 it (or serve with"
                    + " --ipc-group to share it with one group)");
        }
    }

    /** A mode as chmod writes it, e.g. 0755. */
    static String octal(Set<PosixFilePermission> p) {
        int m = 0;
        for (PosixFilePermission x : p) {
            m |= 1 << (8 - x.ordinal());
        }
        return String.format("0%03o", m);
    }
}
