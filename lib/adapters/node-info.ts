import type { AdapterNode, NodeInfo } from './adapter'

/** This node as a node of the cluster, seen now. */
export function nodeInfo (node: AdapterNode): NodeInfo {
  return { nodeId: node.nodeId, ...node.figures(), lastSeen: Date.now() }
}
