// umap-learn's `UMAP.transform`: new points placed into a fitted map without moving it.
// 1. the new points' k nearest training points (approximate through the fit's index, or exact);
// 2. sigma and rho with local_connectivity max(0, local_connectivity - 1) = 0, so rho = 0;
// 3. one-directional membership weights (bipartite: no self edge, no symmetrisation);
// 4. initial position: the weight-normalised mean of the neighbours' positions (a neighbour at
//    weight exactly 1, a duplicate of a training point, gives its position);
// 5. SGD against the fixed training embedding: 100 epochs for <= 10,000 new points, else 30
//    (nEpochs / 3 if set), learning rate learningRate / 4, edges below max / epochs pruned,
//    negatives drawn from the training points, seeded by transformSeed.

extension UMAPModel {
    /// The map positions (rows, nComponents) of new points (rows, dim).
    public func transform(newData: [Float], rows newRows: Int) -> [Float] {
        precondition(newData.count == newRows * dim)
        let k = min(options.nNeighbors, rows)
        let knn: KNNGraph
        if let index {
            knn = index.query(newData, rows: newRows, k: k, expansion: options.search.expansion,
                                   threads: options.threads)
        } else {
            knn = exactNearestNeighbors(queries: newData, queryRows: newRows, references: data, referenceRows: rows,
                                        dim: dim, k: k, threads: options.threads)
        }
        return transformEmbedding(knn: knn, k: k)
    }

    /// Steps 2-5 for the new points' neighbours `knn` (indices into the training rows).
    func transformEmbedding(knn: KNNGraph, k: Int) -> [Float] {
        let dimOut = options.nComponents
        let newRows = knn.rows
        let localConnectivity = max(0, options.localConnectivity - 1)
        let (sigmas, rhos) = smoothKNNDistances(knn, nNeighbors: Float(k), localConnectivity: localConnectivity,
                                                threads: options.threads)
        let strengths = membershipStrengths(knn, sigmas: sigmas, rhos: rhos, bipartite: true)
        let graph = directedMembershipGraph(knn, strengths: strengths, columns: rows)

        var initial = [Float](repeating: 0, count: newRows * dimOut)
        for i in 0..<newRows {
            let edges = graph.rowStart[i]..<graph.rowStart[i + 1]
            if edges.isEmpty {
                for d in 0..<dimOut { initial[i * dimOut + d] = .nan }
                continue
            }
            if let exact = edges.first(where: { graph.weights[$0] == 1 }) {
                let j = Int(graph.targets[exact])
                for d in 0..<dimOut { initial[i * dimOut + d] = embedding[j * dimOut + d] }
                continue
            }
            let total = edges.reduce(Float(0)) { $0 + graph.weights[$1] }
            for e in edges {
                let j = Int(graph.targets[e]), w = graph.weights[e] / total
                for d in 0..<dimOut { initial[i * dimOut + d] += w * embedding[j * dimOut + d] }
            }
        }

        let nEpochs = options.nEpochs.map { $0 / 3 } ?? (newRows <= 10_000 ? 100 : 30)
        let pruned = pruneWeakEdges(graph, nEpochs: nEpochs, defaultEpochs: nEpochs)
        // Heads are the new points and the tails do not move: threads never race, any count is exact.
        let parameters = options.layoutParameters(a: a, b: b, nEpochs: nEpochs, initialAlpha: options.learningRate / 4,
                                                  seed: options.transformSeed)
        optimizeLayout(&initial, dim: dimOut, graph: pruned, fixedTail: embedding, parameters: parameters)
        return initial
    }
}
