import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  DoughnutController,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
  type ChartDataset,
  type TooltipItem,
} from 'chart.js';

// Only the pieces the pages draw: the bundle stays small.
Chart.register(
  BarController,
  BarElement,
  LineController,
  LineElement,
  PointElement,
  DoughnutController,
  ArcElement,
  CategoryScale,
  LinearScale,
  Tooltip,
  Legend,
  Filler,
);
Chart.defaults.font.family = getComputedStyle(document.documentElement).getPropertyValue('--font').trim() || 'system-ui, sans-serif';
Chart.defaults.font.size = 12;
Chart.defaults.color = '#475569';
Chart.defaults.borderColor = '#e2e8f0';
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.plugins.legend.labels.boxWidth = 12;

export const COLORS = {
  primary: '#4f46e5',
  primarySoft: 'rgba(79, 70, 229, 0.15)',
  teal: '#0d9488',
  amber: '#d97706',
  red: '#dc2626',
  slate: '#94a3b8',
  green: '#16a34a',
};

const live: Chart[] = [];

/** Charts of the page being left. */
export function destroyCharts(): void {
  while (live.length > 0) live.pop()!.destroy();
}

function canvas(id: string): HTMLCanvasElement {
  const element = document.getElementById(id);
  if (!(element instanceof HTMLCanvasElement)) throw new Error(`no canvas #${id}`);
  return element;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function draw(id: string, config: ChartConfiguration<any>): Chart {
  const chart = new Chart(canvas(id), config);
  live.push(chart);
  return chart;
}

export interface BarOptions {
  labels: string[];
  datasets: ChartDataset<'bar', number[]>[];
  /** Tooltip text of a bar: (dataset index, bar index) → text; by default the value. */
  tooltip?: (dataset: number, index: number) => string;
  title?: (index: number) => string;
  horizontal?: boolean;
  yTitle?: string;
  xTitle?: string;
  stacked?: boolean;
  legend?: boolean;
  onClick?: (index: number) => void;
  /** Text of a value-axis tick. */
  ticks?: (value: number) => string;
  /** The value axis reaches at least this far (so that small values look small). */
  suggestedMax?: number;
}

export function barChart(id: string, options: BarOptions): Chart {
  const valueAxis = {
    beginAtZero: true,
    suggestedMax: options.suggestedMax,
    stacked: options.stacked,
    title: { display: !!options.yTitle, text: options.yTitle ?? '' },
    ticks: { precision: 0, ...(options.ticks ? { callback: (value: number | string) => options.ticks!(Number(value)) } : {}) },
  };
  const categoryAxis = { stacked: options.stacked, grid: { display: false }, title: { display: !!options.xTitle, text: options.xTitle ?? '' } };
  return draw(id, {
    type: 'bar',
    data: { labels: options.labels, datasets: options.datasets.map((dataset) => ({ maxBarThickness: 72, ...dataset })) },
    options: {
      indexAxis: options.horizontal ? 'y' : 'x',
      scales: options.horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis },
      plugins: {
        legend: { display: options.legend ?? options.datasets.length > 1, position: 'bottom' },
        tooltip: {
          callbacks: {
            ...(options.title ? { title: (items: TooltipItem<'bar'>[]) => options.title!(items[0].dataIndex) } : {}),
            ...(options.tooltip ? { label: (item: TooltipItem<'bar'>) => options.tooltip!(item.datasetIndex, item.dataIndex) } : {}),
          },
        },
      },
      onClick: options.onClick
        ? (_event: unknown, elements: { index: number }[]) => {
            if (elements.length > 0) options.onClick!(elements[0].index);
          }
        : undefined,
      onHover: options.onClick
        ? (event: { native: Event | null }, elements: unknown[]) => {
            const target = event.native?.target as HTMLElement | undefined;
            if (target) target.style.cursor = elements.length > 0 ? 'pointer' : 'default';
          }
        : undefined,
    },
  });
}

export interface LineOptions {
  labels: string[];
  datasets: ChartDataset<'line', (number | null)[]>[];
  tooltip?: (dataset: number, index: number) => string;
  yTitle?: string;
  min?: number;
  max?: number;
  unit?: string;
}

export function lineChart(id: string, options: LineOptions): Chart {
  return draw(id, {
    type: 'line',
    // Points on the axis' bounds (100 %) are drawn whole.
    data: { labels: options.labels, datasets: options.datasets.map((dataset) => ({ clip: false as const, ...dataset })) },
    options: {
      layout: { padding: { top: 6, right: 6 } },
      scales: {
        x: { grid: { display: false } },
        y: {
          min: options.min,
          max: options.max,
          title: { display: !!options.yTitle, text: options.yTitle ?? '' },
          ticks: { callback: (v: number | string) => `${v}${options.unit ?? ''}` },
        },
      },
      plugins: {
        legend: { position: 'bottom' },
        tooltip: options.tooltip ? { callbacks: { label: (item: TooltipItem<'line'>) => options.tooltip!(item.datasetIndex, item.dataIndex) } } : {},
      },
    },
  });
}

export function doughnutChart(id: string, labels: string[], values: number[], colors: string[]): Chart {
  return draw(id, {
    type: 'doughnut',
    data: { labels, datasets: [{ data: values, backgroundColor: colors, borderWidth: 2, borderColor: '#fff' }] },
    options: { cutout: '62%', plugins: { legend: { position: 'bottom' } } },
  });
}
