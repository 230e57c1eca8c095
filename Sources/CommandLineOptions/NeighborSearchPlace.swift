import ArgumentParser

/// `train --umap-neighbors`: where the per-row stages of the epoch maps' neighbour search run. The
/// neighbours, and so the maps, are the same bits either way.
public enum NeighborSearchPlace: String, CaseIterable, Sendable, ExpressibleByArgument {
    /// The coordinator's own threads.
    case local
    /// Blocks of rows on the workers of a distributed run.
    case workers
}
