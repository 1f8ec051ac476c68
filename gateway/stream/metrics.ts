// The hub's Prometheus metrics, made through core/metrics' get-or-create helpers (names, help texts
// and labels are part of the dashboards and alerts: deployment/). The three gauges are counted up
// and down where the hub's state changes (a client opened or dropped, a subscription made or left,
// a channel created) instead of being read by a collect callback: the helpers take none, and a
// count kept at each change stays right when two hubs share a registry.
import { counter, gauge, type Counter, type Gauge, type Registry } from '../../core/metrics.js';

export interface HubMetrics {
  clients: Gauge;
  subscriptions: Gauge;
  channels: Gauge;
  channelsEvicted: Counter<'reason'>;
  sent: Counter<'type'>;
  closes: Counter<'reason'>;
  protocolErrors: Counter<'reason'>;
  resumes: Counter<'outcome'>;
  published: Counter<'kind'>;
}

export function createHubMetrics(registry: Registry): HubMetrics {
  return {
    clients: gauge(registry, 'bitpredict_gateway_ws_clients', 'Connected WebSocket clients'),
    subscriptions: gauge(registry, 'bitpredict_gateway_ws_subscriptions', 'Channel subscriptions over all WebSocket clients'),
    channels: gauge(registry, 'bitpredict_gateway_ws_channels', 'Channels with a sequence and a replay buffer in this gateway'),
    channelsEvicted: counter(
      registry,
      'bitpredict_gateway_ws_channels_evicted_total',
      'Channels deleted with their replay buffer, by reason (idle: no member and no message for BITPREDICT_GATEWAY_CHANNEL_IDLE_MS; cap: room for a new channel at BITPREDICT_GATEWAY_MAX_CHANNELS)',
      ['reason'],
    ),
    sent: counter(registry, 'bitpredict_gateway_ws_messages_sent_total', 'WebSocket messages sent, by message type', ['type']),
    closes: counter(
      registry,
      'bitpredict_gateway_ws_server_closes_total',
      'Connections the server closed, by reason (too_slow 4008, idle 4000, rate_limited 4029, revoked 4001, dead = missed heartbeat)',
      ['reason'],
    ),
    protocolErrors: counter(
      registry,
      'bitpredict_gateway_ws_protocol_errors_total',
      'Client messages refused as outside the protocol or over the rate limit, by reason',
      ['reason'],
    ),
    resumes: counter(registry, 'bitpredict_gateway_ws_resumes_total', 'Subscribes with a resume point, by outcome (replayed, or the gap reason)', ['outcome']),
    published: counter(registry, 'bitpredict_gateway_published_total', 'Values handed to the hub for fan-out, by channel kind', ['kind']),
  };
}
