import WardenJSON

/// Finding and loading a bundle's config.json.
public enum Bundle {
    /// PATH is a bundle folder or a config.json file.
    public static func configPath(_ path: String) throws(WardenError) -> String {
        guard FileIO.exists(path) else { throw .input("no such file or directory", file: path) }
        if FileIO.isDirectory(path) {
            let config = (path.hasSuffix("/") ? path : path + "/") + "config.json"
            guard FileIO.exists(config) else { throw .input("bundle folder has no config.json", file: path) }
            return config
        }
        return path
    }

    /// Loads config.json without following a symlink; it must be a regular file under the size cap.
    public static func loadConfig(_ path: String) throws(WardenError) -> OCIConfig {
        let file = try configPath(path)
        return OCIConfig(document: try JSONDocument(contentsOf: file, followSymlinks: false))
    }
}
