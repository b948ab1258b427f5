import t from 'tap'
import { memoryAdapter } from '../lib/index'
import { adapterContract } from './adapter-contract'

void adapterContract(t, 'memory', memoryAdapter, { shared: false })
