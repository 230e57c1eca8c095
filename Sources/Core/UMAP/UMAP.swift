// UMAP (McInnes, Healy & Melville 2018) as umap-learn 0.5 computes it, stage by stage:
//   nearest neighbours        NearestNeighbors.swift
//   per-point scales          SmoothKNN.swift            (smooth_knn_dist)
//   membership strengths      MembershipStrengths.swift  (compute_membership_strengths)
//   fuzzy union               FuzzySimplicialSet.swift   (fuzzy_simplicial_set)
//   curve parameters a, b     FindAB.swift               (find_ab_params)
//   initial layout            SpectralInit.swift         (spectral_layout, noisy_scale_coords)
//   SGD                       OptimizeLayout.swift       (optimize_layout_euclidean)
//   new points                Transform.swift            (UMAP.transform)
//   epoch-to-epoch alignment  Procrustes.swift
// data is always (rows, dim) row-major Float; embeddings (rows, nComponents).
//
// Where this differs from umap-learn, and why (each is stated again where it happens):
// - neighbours: umap-learn uses pynndescent (or exact distances below 4,096 rows, as here); above,
//   a cell search plus refinement finds ~98.6% of the exact neighbours of 60,000 activations;
// - SGD: the schedule is computed from floor(n·w/w_max) instead of accumulated in float64 (the same
//   epochs up to rounding); negatives come from SplitMix64 keyed by (seed, edge, epoch) instead of
//   a per-vertex tau_rand; the fast 2-D kernel evaluates a sample's attraction and negatives at the
//   head's position before the sample and uses a polynomial pow; threads follow a fixed schedule of
//   vertex blocks instead of racing (Hogwild), and negatives read the layout as it was at the start
//   of the epoch, so the same seed gives the same map on any number of threads;
// - spectral initialisation: Lanczos with locking instead of ARPACK (same tolerance); the
//   meta-layout of > 2·dim components rescales distances when exp(-d²) underflows;
// - smooth_knn_dist sums its exponentials in Float.

/// The stages of a fit, for progress reports.
public enum UMAPStage: String, Sendable {
    case neighbors, graph, initialization, optimization, alignment
}

/// Wall-clock seconds spent in each stage of a fit.
public struct UMAPTimings: Sendable, Equatable {
    public var neighbors = 0.0
    public var graph = 0.0
    public var initialization = 0.0
    public var optimization = 0.0
    public var alignment = 0.0
    public var total: Double { neighbors + graph + initialization + optimization + alignment }
}

/// A fitted map: the embedding and what transform and warm fits need.
public struct UMAPModel: Sendable {
    public let options: UMAPOptions
    public let rows: Int
    public let dim: Int
    /// The training data (rows, dim), shared, not copied.
    public let data: [Float]
    /// The map (rows, nComponents).
    public let embedding: [Float]
    /// The kNN graph (point itself first).
    public let neighbors: KNNGraph
    public let sigmas: [Float]
    public let rhos: [Float]
    /// The symmetrised fuzzy graph (before pruning).
    public let graph: FuzzyGraph
    public let a: Float
    public let b: Float
    /// The approximate search's index (nil when neighbours were exact).
    public let index: NeighborIndex?
    public let timings: UMAPTimings
}

/// Seconds since `start`.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

public enum UMAP {
    /// A fresh fit (umap-learn's `UMAP(...).fit(data)`).
    public static func fit(
        data: [Float], rows: Int, dim: Int, options: UMAPOptions = UMAPOptions(),
        progress: ((UMAPStage, Double) -> Void)? = nil
    ) -> UMAPModel {
        fit(data: data, rows: rows, dim: dim, options: options, stages: ThreadedNeighborStages(threads: options.threads),
            progress: progress)
    }

    /// A fresh fit whose approximate neighbour search runs its per-row stages on `stages` (e.g. worker
    /// processes); the same model as `fit(data:rows:dim:options:)`.
    public static func fit<Stages: NeighborSearchStages>(
        data: [Float], rows: Int, dim: Int, options: UMAPOptions = UMAPOptions(), stages: Stages,
        progress: ((UMAPStage, Double) -> Void)? = nil
    ) throws(Stages.Failure) -> UMAPModel {
        precondition(data.count == rows * dim && rows >= 2)
        var timings = UMAPTimings()
        var clock = ContinuousClock.now
        let k = min(options.nNeighbors, rows)
        let (knn, index) = try nearestNeighbors(data: data, rows: rows, dim: dim, k: k, options: options, previous: nil,
                                                axes: nil, stages: stages)
        timings.neighbors = seconds(since: clock)
        progress?(.neighbors, 1)

        clock = .now
        let (sigmas, rhos, graph) = fuzzyGraph(knn, k: k, options: options)
        let nEpochs = options.epochs(forRows: rows)
        let pruned = pruneWeakEdges(graph, nEpochs: nEpochs, defaultEpochs: rows > 10_000 ? 200 : 500)
        timings.graph = seconds(since: clock)
        progress?(.graph, 1)

        clock = .now
        var embedding = spectralInitialization(pruned, dim: options.nComponents, data: data, dataDim: dim,
                                               seed: options.seed, threads: options.threads)
        timings.initialization = seconds(since: clock)
        progress?(.initialization, 1)

        clock = .now
        let (a, b) = options.curveParameters()
        let parameters = options.layoutParameters(a: a, b: b, nEpochs: nEpochs, initialAlpha: options.learningRate,
                                                  seed: options.seed)
        optimizeLayout(&embedding, dim: options.nComponents, graph: pruned, parameters: parameters) { epoch in
            progress?(.optimization, Double(epoch) / Double(nEpochs))
        }
        timings.optimization = seconds(since: clock)
        return UMAPModel(options: options, rows: rows, dim: dim, data: data, embedding: embedding, neighbors: knn,
                         sigmas: sigmas, rhos: rhos, graph: graph, a: a, b: b, index: index, timings: timings)
    }

    /// The next map of a sequence (same points, new data, e.g. the next training epoch's activations):
    /// neighbours refined from `previous`'s graph, the SGD started from `previous`'s layout (no spectral
    /// initialisation, no rescale) for `options.warmEpochs` epochs at `options.warmLearningRate`, then
    /// aligned onto `previous`'s layout by Procrustes (rotation, reflection, scale, translation).
    public static func warmFit(
        data: [Float], previous: UMAPModel, options: UMAPOptions? = nil,
        progress: ((UMAPStage, Double) -> Void)? = nil
    ) -> UMAPModel {
        warmFit(data: data, previous: previous, options: options,
                stages: ThreadedNeighborStages(threads: (options ?? previous.options).threads), progress: progress)
    }

    /// The next map of a sequence whose approximate neighbour search runs its per-row stages on `stages`
    /// (e.g. worker processes); the same model as `warmFit(data:previous:options:)`.
    public static func warmFit<Stages: NeighborSearchStages>(
        data: [Float], previous: UMAPModel, options: UMAPOptions? = nil, stages: Stages,
        progress: ((UMAPStage, Double) -> Void)? = nil
    ) throws(Stages.Failure) -> UMAPModel {
        precondition(previous.options.nComponents == 2, "warmFit aligns 2-D maps")
        return try warmFit(data: data, from: previous.warmStart, options: options ?? previous.options, stages: stages,
                           progress: progress)
    }

    /// The next map of a sequence from what the previous one left (`UMAPModel.warmStart`, which a run saves
    /// with its checkpoint); the same model as `warmFit(data:previous:options:stages:)`.
    public static func warmFit<Stages: NeighborSearchStages>(
        data: [Float], from previous: UMAPWarmStart, options: UMAPOptions, stages: Stages,
        progress: ((UMAPStage, Double) -> Void)? = nil
    ) throws(Stages.Failure) -> UMAPModel {
        let rows = previous.rows
        precondition(data.count % rows == 0, "warmFit needs the same rows as the previous fit")
        precondition(options.nComponents == 2, "warmFit aligns 2-D maps")
        let dim = data.count / rows
        var timings = UMAPTimings()
        var clock = ContinuousClock.now
        let k = min(options.nNeighbors, rows)
        let (knn, index) = try nearestNeighbors(data: data, rows: rows, dim: dim, k: k, options: options,
                                                previous: previous.neighbors, axes: previous.axes, stages: stages)
        timings.neighbors = seconds(since: clock)
        progress?(.neighbors, 1)

        clock = .now
        let (sigmas, rhos, graph) = fuzzyGraph(knn, k: k, options: options)
        let nEpochs = options.warmEpochs
        let pruned = pruneWeakEdges(graph, nEpochs: nEpochs, defaultEpochs: rows > 10_000 ? 200 : 500)
        timings.graph = seconds(since: clock)
        progress?(.graph, 1)

        clock = .now
        var embedding = previous.embedding
        let (a, b) = options.curveParameters()
        let parameters = options.layoutParameters(a: a, b: b, nEpochs: nEpochs,
                                                  initialAlpha: options.warmLearningRate, seed: options.seed)
        optimizeLayout(&embedding, dim: 2, graph: pruned, parameters: parameters) { epoch in
            progress?(.optimization, Double(epoch) / Double(nEpochs))
        }
        timings.optimization = seconds(since: clock)

        clock = .now
        embedding = alignProcrustes(embedding, onto: previous.embedding)
        timings.alignment = seconds(since: clock)
        progress?(.alignment, 1)
        return UMAPModel(options: options, rows: rows, dim: dim, data: data, embedding: embedding, neighbors: knn,
                         sigmas: sigmas, rhos: rhos, graph: graph, a: a, b: b, index: index, timings: timings)
    }

    /// Neighbours as the options ask: exact (in this process), or approximate (from `previous` if given,
    /// per-row stages on `stages`).
    static func nearestNeighbors<Stages: NeighborSearchStages>(
        data: [Float], rows: Int, dim: Int, k: Int, options: UMAPOptions, previous: KNNGraph?,
        axes: PrincipalComponents?, stages: Stages
    ) throws(Stages.Failure) -> (KNNGraph, NeighborIndex?) {
        let exact: Bool
        switch options.neighborSearch {
        case .exact: exact = true
        case .approximate: exact = false
        case .automatic: exact = rows < 4096
        }
        if exact {
            return (exactNearestNeighbors(data: data, rows: rows, dim: dim, k: k, threads: options.threads), nil)
        }
        let (graph, index) = try approximateNearestNeighbors(
            data: data, rows: rows, dim: dim, k: k, options: options.search, previous: previous, axes: axes,
            seed: options.seed, threads: options.threads, stages: stages)
        return (graph, index)
    }

    /// Scales, membership strengths and fuzzy union of a kNN graph.
    static func fuzzyGraph(_ knn: KNNGraph, k: Int, options: UMAPOptions) -> ([Float], [Float], FuzzyGraph) {
        let (sigmas, rhos) = smoothKNNDistances(knn, nNeighbors: Float(k), localConnectivity: options.localConnectivity,
                                                threads: options.threads)
        let strengths = membershipStrengths(knn, sigmas: sigmas, rhos: rhos)
        let graph = fuzzySimplicialSet(knn, strengths: strengths, setOpMixRatio: options.setOpMixRatio)
        return (sigmas, rhos, graph)
    }
}
