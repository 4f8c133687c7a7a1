/**
 * Analytics: the tenant's totals, calls and minutes per day, busiest hours and top agents
 * (summary), and the same series for one agent.
 */
import { useEffect, useState, type ReactElement } from 'react';
import { Bar, BarChart, CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { api, data } from '../api';
import { ErrorLine, Section, useLoad } from '../ui';

interface Summary { total_agents: number; total_calls: number; total_minutes: number; average_call_duration: number; success_rate: number; busiest_hour: number | null; hourly_distribution: Record<string, number>; top_agents: Array<{ agent_id: string; name: string; calls: number; minutes: number }>; daily_trend: DayTrend[] }
interface DayTrend { date: string; calls: number; minutes: number }
interface AgentStats { name: string; hourly_distribution: Record<string, number>; daily_trend: DayTrend[] }

const PERIODS = ['day', 'week', 'month', 'year'] as const;

function Card({ label, value }: { label: string; value: string | number }) {
  return <div className="card"><div className="card-value">{value}</div><div className="card-label">{label}</div></div>;
}

function Chart({ title, children }: { title: string; children: ReactElement }) {
  return (
    <figure className="chart" data-testid={`chart-${title.toLowerCase().replace(/\W+/g, '-')}`}>
      <figcaption>{title}</figcaption>
      <ResponsiveContainer width="100%" height={220}>{children}</ResponsiveContainer>
    </figure>
  );
}

/** All 24 hours, so a quiet hour shows as a gap rather than disappearing from the axis. */
const allHours = (byHour: Record<string, number>) => Array.from({ length: 24 }, (_, h) => ({ hour: `${h}h`, calls: byHour[String(h)] ?? 0 }));

function HoursChart({ title, byHour }: { title: string; byHour: Record<string, number> }) {
  return (
    <Chart title={title}>
      <BarChart data={allHours(byHour)}><CartesianGrid strokeDasharray="3 3" /><XAxis dataKey="hour" /><YAxis allowDecimals={false} /><Tooltip /><Bar dataKey="calls" fill="#b7791f" isAnimationActive={false} /></BarChart>
    </Chart>
  );
}

/** Calls and minutes per day, labelled `prefix` (empty for the tenant). */
function DayCharts({ prefix, trend }: { prefix: string; trend: DayTrend[] }) {
  const days = trend.map((d) => ({ ...d, day: d.date.slice(5) }));
  return (
    <>
      <Chart title={`${prefix}Calls per day`}>
        <BarChart data={days}><CartesianGrid strokeDasharray="3 3" /><XAxis dataKey="day" /><YAxis allowDecimals={false} /><Tooltip /><Bar dataKey="calls" fill="#3b6ea5" isAnimationActive={false} /></BarChart>
      </Chart>
      <Chart title={`${prefix}Minutes per day`}>
        <LineChart data={days}><CartesianGrid strokeDasharray="3 3" /><XAxis dataKey="day" /><YAxis /><Tooltip /><Line dataKey="minutes" stroke="#2f855a" dot={false} isAnimationActive={false} /></LineChart>
      </Chart>
    </>
  );
}

function AgentCharts({ agentId }: { agentId: string }) {
  const stats = useLoad<AgentStats>(() => data(api().GET('/api/analytics/agents/{agent_id}', { params: { path: { agent_id: agentId } } })), [agentId]);
  if (stats.error) return <ErrorLine error={stats.error} />;
  if (!stats.data) return null;
  return (
    <div className="charts">
      <DayCharts prefix={`${stats.data.name}: `} trend={stats.data.daily_trend} />
      <HoursChart title={`${stats.data.name}: busiest hours (UTC)`} byHour={stats.data.hourly_distribution} />
    </div>
  );
}

export function Analytics() {
  const [period, setPeriod] = useState<(typeof PERIODS)[number]>('month');
  const summary = useLoad<Summary>(() => data(api().GET('/api/analytics/summary', { params: { query: { period } } })), [period]);
  const agents = useLoad<Array<{ id: string; name: string }>>(() => data(api().GET('/api/agents', { params: { query: { limit: 1000, offset: 0 } } })), []);
  const [agent, setAgent] = useState<string>('');
  const s = summary.data;
  useEffect(() => {
    if (!agent && s?.top_agents[0]) setAgent(s.top_agents[0].agent_id);
  }, [agent, s]);
  return (
    <>
      <Section title="Analytics" actions={
        <select aria-label="period" value={period} onChange={(e) => setPeriod(e.target.value as typeof period)}>
          {PERIODS.map((p) => <option key={p} value={p}>last {p}</option>)}
        </select>}>
        <ErrorLine error={summary.error} />
        {s && <>
          <div className="cards" data-testid="summary">
            <Card label="calls" value={s.total_calls} />
            <Card label="minutes" value={s.total_minutes.toFixed(1)} />
            <Card label="average call (s)" value={s.average_call_duration} />
            <Card label="completed" value={`${Math.round(s.success_rate * 100)}%`} />
            <Card label="busiest hour (UTC)" value={s.busiest_hour === null ? '—' : `${s.busiest_hour}:00`} />
            <Card label="agents" value={s.total_agents} />
          </div>
          <div className="charts">
          <DayCharts prefix="" trend={s.daily_trend} />
          <HoursChart title="Busiest hours (UTC)" byHour={s.hourly_distribution} />
          <Chart title="Top agents">
            <BarChart data={s.top_agents}><CartesianGrid strokeDasharray="3 3" /><XAxis dataKey="name" /><YAxis allowDecimals={false} /><Tooltip />
              <Bar dataKey="calls" fill="#3b6ea5" isAnimationActive={false} /><Bar dataKey="minutes" fill="#2f855a" isAnimationActive={false} /></BarChart>
          </Chart>
          </div>
        </>}
      </Section>
      <Section title="One agent" actions={
        <select aria-label="agent" value={agent} onChange={(e) => setAgent(e.target.value)}>
          <option value="">(pick an agent)</option>
          {(agents.data ?? []).map((a) => <option key={a.id} value={a.id}>{a.name}</option>)}
        </select>}>
        {agent ? <AgentCharts agentId={agent} /> : <p className="empty">Pick an agent to see its calls per day and busiest hours.</p>}
      </Section>
    </>
  );
}
