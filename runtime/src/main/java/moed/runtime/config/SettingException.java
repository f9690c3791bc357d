package moed.runtime.config;

/**
 * A setting's value cannot be honoured. The message says what is wrong in the runtime's terms (naming the setting
 * as {@link Setting#toString()} does); {@link #setting()} lets a front end add its own name for it.
 */
public final class SettingException extends IllegalArgumentException {
    private final Setting setting;

    public SettingException(Setting setting, String message) {
        super(message);
        this.setting = setting;
    }

    public Setting setting() {
        return setting;
    }
}
