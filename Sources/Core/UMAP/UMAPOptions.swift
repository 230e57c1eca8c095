/// How neighbours are found.
public enum NeighborSearch: String, Sendable, Equatable, Codable {
    /// Exact below 4,096 rows (as umap-learn's small-data path), approximate above.
    case automatic
    /// Blocked sgemm with fused top-k: exact, slow for large inputs (the reference for recall).
    case exact
    /// PCA candidates + neighbours-of-neighbours refinement (see `NeighborSearchOptions`).
    case approximate
}

/// Every knob of the UMAP stage. Defaults equal umap-learn 0.5's, except `nNeighbors` (40, the
/// reference run's value); the knobs below "Glassbox's own" have no umap-learn counterpart.
public struct UMAPOptions: Sendable, Equatable, Codable {
    /// Size of the local neighbourhood, counting the point itself (umap-learn `n_neighbors`).
    public var nNeighbors = 40
    /// Output dimension (`n_components`). Procrustes alignment and warm fits need 2.
    public var nComponents = 2
    /// Minimum distance between embedded points (`min_dist`).
    public var minDist: Float = 0.1
    /// Scale of embedded points (`spread`).
    public var spread: Float = 1.0
    /// Curve parameters; nil: fitted from `minDist` and `spread` (`a`, `b`).
    public var a: Float? = nil
    public var b: Float? = nil
    /// Initial SGD learning rate (`learning_rate`).
    public var learningRate: Float = 1.0
    /// Fuzzy union (1) to intersection (0) (`set_op_mix_ratio`).
    public var setOpMixRatio: Float = 1.0
    /// Neighbours assumed connected (`local_connectivity`).
    public var localConnectivity: Float = 1.0
    /// Weight of negative samples (`repulsion_strength`).
    public var repulsionStrength: Float = 1.0
    /// Negative samples per positive sample (`negative_sample_rate`).
    public var negativeSampleRate = 5
    /// SGD epochs; nil: 200 above 10,000 rows, else 500 (`n_epochs`).
    public var nEpochs: Int? = nil
    /// Seed of every random choice of a fit (`random_state`).
    public var seed: UInt64 = 0
    /// Seed of transform's random choices (`transform_seed`).
    public var transformSeed: UInt64 = 42

    // Glassbox's own.
    /// Exact or approximate neighbours.
    public var neighborSearch = NeighborSearch.automatic
    /// Knobs of the approximate search.
    public var search = NeighborSearchOptions()
    /// Threads for the neighbour search, the spectral initialisation and the SGD. Each thread calls
    /// sgemm on its own blocks, so OpenBLAS should run single-threaded (`BLAS.setThreads(1)`, as
    /// everywhere in Glassbox).
    public var threads = UMAPOptions.defaultThreads
    /// Vertex blocks of the SGD's schedule (`LayoutSchedule`): the map depends on the seed and this,
    /// not on `threads` (of which up to layoutBlocks / 2 share the SGD).
    public var layoutBlocks = 16
    /// SGD epochs of a warm fit (started from the previous layout).
    public var warmEpochs = 40
    /// Initial learning rate of a warm fit.
    public var warmLearningRate: Float = 0.15

    public init() {}

    /// Every core of the machine.
    public static var defaultThreads: Int { defaultThreadCount() }

    /// umap-learn's default epoch count for `rows` points.
    public func epochs(forRows rows: Int) -> Int {
        nEpochs ?? (rows > 10_000 ? 200 : 500)
    }

    /// The SGD's settings: `nEpochs` epochs from learning rate `initialAlpha`, negatives seeded by `seed`.
    func layoutParameters(a: Float, b: Float, nEpochs: Int, initialAlpha: Float, seed: UInt64) -> LayoutParameters {
        var parameters = LayoutParameters(a: a, b: b, nEpochs: nEpochs)
        parameters.gamma = repulsionStrength
        parameters.initialAlpha = initialAlpha
        parameters.negativeSampleRate = Float(negativeSampleRate)
        parameters.seed = seed
        parameters.threads = threads
        parameters.vertexBlocks = layoutBlocks
        return parameters
    }

    /// The curve parameters (a, b) in use.
    public func curveParameters() -> (a: Float, b: Float) {
        if let a, let b { return (a, b) }
        return findAB(spread: spread, minDist: minDist)
    }
}

/// The random choices of the UMAP stage: each draws from SplitMix64(seed, .umap, purpose, index).
enum UMAPRandomPurpose: UInt64 {
    case pca = 1
    case spectralStart = 2
    case spectralFallback = 3
    case spectralNoise = 4
    case negativeSamples = 5
    case componentLayout = 6
    case kMeans = 7
}

extension SplitMix64 {
    init(seed: UInt64, _ purpose: UMAPRandomPurpose, _ index: UInt64 = 0) {
        self.init(seed: seed, stream: .umap, purpose.rawValue, index)
    }
}
