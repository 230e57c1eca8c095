import ArgumentParser
import Core

/// `--log-format text|json`: the raw values are the spellings, so `--help` lists them and a spawned
/// worker is passed the coordinator's by its raw value.
extension LogFormat: ExpressibleByArgument {}
